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

run "rolling_by_default_adds_no_traffic_shifting" {
  command = plan

  assert {
    condition     = aws_ecs_service.this.deployment_configuration[0].strategy == "ROLLING"
    error_message = "The default strategy stays ROLLING."
  }
  assert {
    condition = (
      length(aws_lb_target_group.alternate) + length(aws_lb_listener.test) + length(aws_lb_listener_rule.production) +
      length(aws_lb_listener_rule.test) + length(aws_iam_role.load_balancers) + length(aws_cloudwatch_metric_alarm.target_5xx_alternate)
    ) == 0
    error_message = "ROLLING creates no second target group, test listener, listener rules, role or extra alarms."
  }
  assert {
    condition     = output.test_url == null
    error_message = "No test URL without a test listener."
  }
}

run "blue_green_is_wired_completely" {
  command = plan

  variables {
    deployment_strategy = "BLUE_GREEN"
    test_listener_cidrs = ["10.20.0.0/16"]
  }

  assert {
    condition     = aws_ecs_service.this.deployment_configuration[0].strategy == "BLUE_GREEN" && aws_ecs_service.this.deployment_configuration[0].bake_time_in_minutes == "5"
    error_message = "BLUE_GREEN with the default 5-minute bake."
  }
  assert {
    condition = (
      length(aws_lb_target_group.alternate) == 1 && length(aws_lb_listener_rule.production) == 1 &&
      length(aws_lb_listener_rule.test) == 1 && length(aws_iam_role.load_balancers) == 1
    )
    error_message = "Blue/green gets the second target group, both listener rules and ECS's load-balancer role."
  }
  assert {
    condition     = aws_lb_listener.test[0].port == 8080 && aws_lb_listener.test[0].protocol == "HTTP"
    error_message = "Without a certificate the test listener is HTTP on 8080."
  }
  assert {
    condition     = [for rule in aws_vpc_security_group_ingress_rule.lb_test_listener_cidrs : rule.cidr_ipv4] == ["10.20.0.0/16"]
    error_message = "Only test_listener_cidrs reach the test listener."
  }
  assert {
    condition     = length(aws_ecs_service.this.alarms[0].alarm_names) == 4
    error_message = "5xx and unhealthy-target alarms on both target groups roll back."
  }
  assert {
    condition     = aws_iam_role_policy_attachment.load_balancers[0].policy_arn == "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
    error_message = "ECS's load-balancer role has AWS's managed policy."
  }
  assert {
    condition     = output.rollout_floor_seconds == 325
    error_message = "Blue/green floor with defaults: 10 s + 5 min bake + 15 s."
  }
}

run "canary_and_linear_floors" {
  command = plan

  variables {
    deployment_strategy = "CANARY"
  }

  assert {
    condition     = aws_ecs_service.this.deployment_configuration[0].canary_configuration[0].canary_percent == 10
    error_message = "CANARY shifts canary_percent first."
  }
  assert {
    condition     = output.rollout_floor_seconds == 625
    error_message = "Canary floor with defaults: 10 s + 5 min canary bake + 5 min bake + 15 s."
  }
}

run "linear_floor" {
  command = plan

  variables {
    deployment_strategy = "LINEAR"
  }

  assert {
    condition     = aws_ecs_service.this.deployment_configuration[0].linear_configuration[0].step_percent == 25
    error_message = "LINEAR moves linear_step_percent per step."
  }
  assert {
    condition     = output.rollout_floor_seconds == 685
    error_message = "Linear floor with defaults: 10 s + 3 x 2 min + 5 min bake + 15 s."
  }
}

run "lambda_hook_without_role_gets_a_scoped_role" {
  command = plan

  variables {
    deployment_strategy = "BLUE_GREEN"
    lifecycle_hooks = [{
      hook_target_arn  = "arn:aws:lambda:us-east-1:123456789012:function:verify-green"
      lifecycle_stages = ["POST_TEST_TRAFFIC_SHIFT"]
    }]
  }

  assert {
    condition     = length(aws_iam_role.lifecycle_hooks) == 1 && length(aws_ecs_service.this.deployment_configuration[0].lifecycle_hook) == 1
    error_message = "A Lambda hook without role_arn gets the module's hook role."
  }
}

run "rejects_a_public_test_listener" {
  command = plan

  variables {
    deployment_strategy = "BLUE_GREEN"
    test_listener_cidrs = ["0.0.0.0/0"]
  }

  expect_failures = [var.test_listener_cidrs]
}

run "rejects_an_unknown_strategy" {
  command = plan

  variables {
    deployment_strategy = "RECREATE"
  }

  expect_failures = [var.deployment_strategy]
}

run "rejects_a_stage_ecs_takes_no_hook_at" {
  command = plan

  variables {
    deployment_strategy = "BLUE_GREEN"
    lifecycle_hooks = [{
      hook_target_arn  = "arn:aws:lambda:us-east-1:123456789012:function:verify-green"
      lifecycle_stages = ["BAKE_TIME"]
    }]
  }

  expect_failures = [var.lifecycle_hooks]
}

run "rejects_pause_hooks_until_the_provider_has_target_type" {
  command = plan

  variables {
    deployment_strategy = "BLUE_GREEN"
    lifecycle_hooks     = [{ target_type = "PAUSE", lifecycle_stages = ["POST_TEST_TRAFFIC_SHIFT"] }]
  }

  expect_failures = [var.lifecycle_hooks]
}

run "rejects_hooks_with_rolling" {
  command = plan

  variables {
    lifecycle_hooks = [{
      hook_target_arn  = "arn:aws:lambda:us-east-1:123456789012:function:verify-green"
      lifecycle_stages = ["PRE_SCALE_UP"]
    }]
  }

  expect_failures = [aws_ecs_service.this]
}
