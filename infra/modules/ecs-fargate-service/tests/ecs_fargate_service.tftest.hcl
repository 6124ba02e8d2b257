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
  mock_data "aws_subnets" {
    defaults = {
      ids = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
    }
  }
}

variables {
  name            = "envpromote-dev"
  service_name    = "envpromote-dev-web"
  family          = "envpromote-dev-web"
  alarm_topic_arn = "arn:aws:sns:us-east-1:123456789012:envpromote-dev-alarms"
}

run "circuit_breaker_and_alarm_rollback" {
  command = plan

  assert {
    condition     = aws_ecs_service.this.deployment_circuit_breaker[0].enable && aws_ecs_service.this.deployment_circuit_breaker[0].rollback
    error_message = "The circuit breaker must be on with rollback."
  }
  assert {
    condition     = aws_ecs_service.this.alarms[0].enable && aws_ecs_service.this.alarms[0].rollback
    error_message = "Alarm-based rollback must be on."
  }
  assert {
    condition     = length(aws_ecs_service.this.alarms[0].alarm_names) == 2
    error_message = "The 5xx and unhealthy-target alarms roll deployments back."
  }
}

run "fast_rollout_defaults" {
  command = plan

  assert {
    condition     = tonumber(aws_lb_target_group.this.deregistration_delay) == 15
    error_message = "Deregistration delay defaults to 15 s, not AWS's 300 s."
  }
  assert {
    condition     = output.rollout_floor_seconds == 25
    error_message = "Rollout floor with defaults is 2 x 5 s + 15 s."
  }
}

run "alarms_notify_on_alarm_and_ok" {
  command = plan

  assert {
    condition = alltrue([for alarm in [
      aws_cloudwatch_metric_alarm.cpu, aws_cloudwatch_metric_alarm.memory, aws_cloudwatch_metric_alarm.unhealthy_hosts,
      aws_cloudwatch_metric_alarm.target_5xx, aws_cloudwatch_metric_alarm.response_time, aws_cloudwatch_metric_alarm.running_tasks,
    ] : length(alarm.ok_actions) == 1 && length(alarm.alarm_actions) == 1])
    error_message = "Every alarm notifies the topic on ALARM and OK."
  }
}

run "private_subnets_without_public_ip_when_vpc_given" {
  command = plan

  variables {
    vpc_id             = "vpc-0123456789abcdef0"
    private_subnet_ids = ["subnet-0123456789abcdef0"]
    public_subnet_ids  = ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"]
    certificate_arn    = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
  }

  assert {
    condition     = aws_ecs_service.this.network_configuration[0].assign_public_ip == false
    error_message = "No public IPs in a given VPC."
  }
  assert {
    condition     = length(aws_lb_listener.https) == 1 && length(aws_lb_listener.http) == 0
    error_message = "A certificate gives an HTTPS listener (and HTTP only redirects)."
  }
}

run "rejects_deregistration_delay_above_limit" {
  command = plan

  variables {
    deregistration_delay = 4000
  }

  expect_failures = [var.deregistration_delay]
}
