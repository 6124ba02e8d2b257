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
  name = "envpromote-dev-alarms"
}

run "customer_managed_key_and_scoped_publishers" {
  command = plan

  assert {
    condition     = aws_kms_key.topic.enable_key_rotation
    error_message = "The topic key rotates."
  }
  assert {
    condition     = local.source_arn_patterns == ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"]
    error_message = "By default only this account's alarms may publish."
  }
  assert {
    condition     = length(aws_chatbot_slack_channel_configuration.this) == 0
    error_message = "Slack is optional and off by default."
  }
}

run "slack_wiring_when_ids_given" {
  command = plan

  variables {
    slack_channel_id = "C0123456789"
    slack_team_id    = "T0123456789"
  }

  assert {
    condition     = length(aws_chatbot_slack_channel_configuration.this) == 1
    error_message = "Slack ids turn the Chatbot configuration on."
  }
}
