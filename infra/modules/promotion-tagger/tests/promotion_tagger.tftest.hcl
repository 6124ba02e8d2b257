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
}

variables {
  ledger_bucket_name = "envpromote-ledger-123456789012"
  ledger_bucket_arn  = "arn:aws:s3:::envpromote-ledger-123456789012"
  ledger_kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  repository_name    = "envpromote-app"
  repository_arn     = "arn:aws:ecr:us-east-1:123456789012:repository/envpromote-app"
}

run "notified_of_records_only_and_tags_the_one_repository" {
  command = plan

  assert {
    condition     = length(aws_s3_bucket_notification.ledger.lambda_function) == 3 && alltrue([for target in aws_s3_bucket_notification.ledger.lambda_function : startswith(target.filter_prefix, "releases/envs/") && endswith(target.filter_prefix, "/r/") && target.filter_suffix == ".json"])
    error_message = "The function hears only record objects (<prefix>/envs/<env>/r/*.json), one entry per environment."
  }
  assert {
    condition     = aws_lambda_function.tagger.environment[0].variables["REPOSITORY"] == "envpromote-app" && aws_lambda_function.tagger.environment[0].variables["TAG_PREFIX"] == "promoted-"
    error_message = "The function tags promoted-<env>-<digest12> in the configured repository."
  }
  assert {
    condition     = aws_lambda_function.tagger.reserved_concurrent_executions == 2 && aws_lambda_function.tagger.tracing_config[0].mode == "Active"
    error_message = "Concurrency is capped and tracing is on."
  }
  assert {
    condition     = aws_lambda_permission.ledger_notifies.source_arn == "arn:aws:s3:::envpromote-ledger-123456789012" && aws_lambda_permission.ledger_notifies.principal == "s3.amazonaws.com"
    error_message = "Only the ledger bucket may invoke the function."
  }
}

run "rejects_a_wildcard_repository" {
  command = plan

  variables {
    repository_arn = "arn:aws:ecr:us-east-1:123456789012:repository/*"
  }

  expect_failures = [var.repository_arn]
}
