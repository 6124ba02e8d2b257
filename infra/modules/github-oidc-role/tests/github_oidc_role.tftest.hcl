mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  oidc_provider_arn  = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
  github_repository  = "acme/shop"
  ecr_repository_arn = "arn:aws:ecr:us-east-1:123456789012:repository/envpromote-app"
}

run "deploy_role_trusts_one_environment" {
  command = plan

  variables {
    name              = "envpromote-production-deploy"
    kind              = "deploy"
    environment       = "production"
    region            = "us-east-1"
    cluster_arn       = "arn:aws:ecs:us-east-1:123456789012:cluster/envpromote-production"
    service_arn       = "arn:aws:ecs:us-east-1:123456789012:service/envpromote-production/envpromote-production-web"
    pass_role_arns    = ["arn:aws:iam::123456789012:role/envpromote-production-execution", "arn:aws:iam::123456789012:role/envpromote-production-task"]
    ledger_bucket_arn = "arn:aws:s3:::envpromote-ledger-123456789012"
    lock_table_arn    = "arn:aws:dynamodb:us-east-1:123456789012:table/envpromote-locks"
  }

  assert {
    condition     = output.subject == "repo:acme/shop:environment:production"
    error_message = "A deploy role trusts exactly one GitHub environment."
  }
  assert {
    condition     = length(data.aws_iam_policy_document.build) == 0
    error_message = "A deploy role has no push policy."
  }
}

run "build_role_trusts_main_pushes" {
  command = plan

  variables {
    name = "envpromote-build"
    kind = "build"
  }

  assert {
    condition     = output.subject == "repo:acme/shop:ref:refs/heads/main"
    error_message = "The build role trusts pushes to main."
  }
}

run "rejects_wildcard_repository" {
  command = plan

  variables {
    name              = "x"
    kind              = "build"
    github_repository = "acme/*"
  }

  expect_failures = [var.github_repository]
}

run "rejects_the_board_environment" {
  command = plan

  variables {
    name              = "envpromote-board-deploy"
    kind              = "deploy"
    environment       = "board"
    region            = "us-east-1"
    cluster_arn       = "arn:aws:ecs:us-east-1:123456789012:cluster/envpromote-board"
    service_arn       = "arn:aws:ecs:us-east-1:123456789012:service/envpromote-board/envpromote-board-web"
    pass_role_arns    = ["arn:aws:iam::123456789012:role/envpromote-board-execution"]
    ledger_bucket_arn = "arn:aws:s3:::envpromote-ledger-123456789012"
    lock_table_arn    = "arn:aws:dynamodb:us-east-1:123456789012:table/envpromote-locks"
  }

  expect_failures = [var.environment]
}
