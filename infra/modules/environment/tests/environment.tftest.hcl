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
  mock_data "aws_region" {
    defaults = {
      region = "us-east-1"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_data "aws_iam_openid_connect_provider" {
    defaults = {
      arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    }
  }
  mock_data "aws_ecr_repository" {
    defaults = {
      arn  = "arn:aws:ecr:us-east-1:123456789012:repository/envpromote-app"
      name = "envpromote-app"
    }
  }
  mock_data "aws_s3_bucket" {
    defaults = {
      arn    = "arn:aws:s3:::envpromote-ledger-123456789012"
      bucket = "envpromote-ledger-123456789012"
    }
  }
  mock_data "aws_dynamodb_table" {
    defaults = {
      arn  = "arn:aws:dynamodb:us-east-1:123456789012:table/envpromote-locks"
      name = "envpromote-locks"
    }
  }
  mock_data "aws_kms_alias" {
    defaults = {
      target_key_arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    }
  }
  mock_data "aws_subnets" {
    defaults = {
      ids = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
    }
  }
  mock_resource "aws_ecs_cluster" {
    defaults = {
      arn = "arn:aws:ecs:us-east-1:123456789012:cluster/envpromote-staging"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/envpromote-staging-mock"
    }
  }
  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:us-east-1:123456789012:envpromote-staging-web-events"
      id  = "https://sqs.us-east-1.amazonaws.com/123456789012/envpromote-staging-web-events"
    }
  }
  mock_resource "aws_cloudwatch_metric_alarm" {
    defaults = {
      arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:envpromote-staging-mock"
    }
  }
  mock_resource "aws_sns_topic" {
    defaults = {
      arn = "arn:aws:sns:us-east-1:123456789012:envpromote-staging-alarms"
    }
  }
  mock_resource "aws_cloudwatch_event_rule" {
    defaults = {
      arn = "arn:aws:events:us-east-1:123456789012:rule/envpromote-staging-mock"
    }
  }
}

variables {
  environment       = "staging"
  region            = "us-east-1"
  github_repository = "acme/shop"
  ledger_bucket     = "envpromote-ledger-123456789012"
}

run "outputs_in_envpromote_terms" {
  command = plan

  assert {
    condition     = output.envpromote.environment.service == "envpromote-staging-web"
    error_message = "Service name follows <project>-<environment>-web."
  }
  assert {
    condition     = output.envpromote.environment.family == "envpromote-staging-web" && output.envpromote.environment.container == "web"
    error_message = "Family and container come through to the config snippet."
  }
  assert {
    condition     = module.deploy_role.subject == "repo:acme/shop:environment:staging"
    error_message = "The deploy role trusts only this GitHub environment."
  }
  assert {
    condition     = output.envpromote.environment.strategy == "rolling" && output.envpromote.environment.test_url == null
    error_message = "The strategy defaults to rolling, in envpromote.toml's spelling, without a test listener."
  }
}

run "blue_green_reaches_the_service_module" {
  command = plan

  variables {
    service = {
      deployment_strategy = "BLUE_GREEN"
      test_listener_cidrs = ["10.20.0.0/16"]
    }
  }

  assert {
    condition     = output.envpromote.environment.strategy == "blue_green" && output.deployment_strategy == "BLUE_GREEN"
    error_message = "The environment's strategy comes through to the config snippet."
  }
}
