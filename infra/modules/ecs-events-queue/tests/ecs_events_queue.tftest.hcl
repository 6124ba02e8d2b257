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
  name         = "envpromote-dev-web"
  cluster_arn  = "arn:aws:ecs:us-east-1:123456789012:cluster/envpromote-dev"
  service_arn  = "arn:aws:ecs:us-east-1:123456789012:service/envpromote-dev/envpromote-dev-web"
  service_name = "envpromote-dev-web"
}

run "rules_match_only_this_service" {
  command = plan

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.deployment.event_pattern).resources == [var.service_arn]
    error_message = "Deployment events are filtered to this service."
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.stopped_tasks.event_pattern).detail.lastStatus == ["STOPPED"]
    error_message = "Only STOPPED task events are delivered."
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.stopped_tasks.event_pattern).detail.group == ["service:envpromote-dev-web"]
    error_message = "Task events are filtered to this service's tasks."
  }
}

run "encrypted_short_retention_with_dlq" {
  command = plan

  assert {
    condition     = aws_sqs_queue.events.sqs_managed_sse_enabled && aws_sqs_queue.dlq.sqs_managed_sse_enabled
    error_message = "Both queues are encrypted."
  }
  assert {
    condition     = aws_sqs_queue.events.message_retention_seconds <= 86400
    error_message = "Retention is short."
  }
}

run "rejects_long_retention" {
  command = plan

  variables {
    message_retention_seconds = 1209600
  }

  expect_failures = [var.message_retention_seconds]
}
