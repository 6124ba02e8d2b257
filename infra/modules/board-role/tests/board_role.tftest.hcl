mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  name              = "envpromote-board"
  oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
  github_repository = "acme/shop"
  region            = "us-east-1"
  ledger_bucket_arn = "arn:aws:s3:::envpromote-ledger-123456789012"
  lock_table_arn    = "arn:aws:dynamodb:us-east-1:123456789012:table/envpromote-locks"
  lock_ids          = ["dev", "staging", "production"]
  service_arns = [
    "arn:aws:ecs:us-east-1:123456789012:service/envpromote-dev/envpromote-dev-web",
    "arn:aws:ecs:us-east-1:123456789012:service/envpromote-staging/envpromote-staging-web",
    "arn:aws:ecs:eu-west-1:123456789012:service/envpromote-production/envpromote-production-web",
  ]
}

run "trusts_the_board_environment_only" {
  command = plan

  assert {
    condition     = output.subject == "repo:acme/shop:environment:board"
    error_message = "The board role trusts exactly the GitHub environment board."
  }
  assert {
    condition     = toset(local.ecs_regions) == toset(["us-east-1", "eu-west-1"])
    error_message = "DescribeTaskDefinition is pinned to the regions of the chain's services."
  }
}

run "refuses_a_deploy_role_to_assume" {
  command = plan

  variables {
    assume_role_arns = ["arn:aws:iam::123456789012:role/envpromote-production-deploy"]
  }

  expect_failures = [var.assume_role_arns]
}

run "refuses_a_wildcard_service" {
  command = plan

  variables {
    service_arns = ["arn:aws:ecs:us-east-1:123456789012:service/envpromote-dev/*"]
  }

  expect_failures = [var.service_arns]
}

run "refuses_no_lock_ids" {
  command = plan

  variables {
    lock_ids = []
  }

  expect_failures = [var.lock_ids]
}
