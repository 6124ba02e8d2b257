# Traffic-shifting strategies (BLUE_GREEN, CANARY, LINEAR) -------------------------------------------
# Everything here exists only when deployment_strategy is not ROLLING (count = local.traffic_shift).
# ECS registers a new revision's tasks in whichever target group is idle, points the test listener rule
# at it (TEST_TRAFFIC_SHIFT), then moves the production listener rule's weights (all at once, canary, or
# linear steps), bakes, and drains the old revision. The two target groups swap roles every deployment.

locals {
  # Lambda hooks without their own role_arn get the module's role (lambda:InvokeFunction on those only).
  hook_functions_without_role = distinct([for hook in var.lifecycle_hooks : hook.hook_target_arn if hook.role_arn == null && hook.hook_target_arn != null])
  lb_alternate_dims           = { LoadBalancer = aws_lb.this.arn_suffix, TargetGroup = one(aws_lb_target_group.alternate[*].arn_suffix) }
}

resource "aws_lb_target_group" "alternate" {
  #checkov:skip=CKV_AWS_378:TLS terminates at the load balancer; load balancer to task traffic stays inside the VPC security groups.
  count = local.traffic_shift ? 1 : 0

  name                 = "${var.name}-tg2"
  port                 = var.container_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = local.vpc_id
  deregistration_delay = var.deregistration_delay

  health_check {
    path                = var.health_check_path
    interval            = var.health_check_interval
    timeout             = var.health_check_timeout
    healthy_threshold   = var.healthy_threshold
    unhealthy_threshold = var.unhealthy_threshold
    matcher             = "200-399"
  }

  tags = var.tags
}

# Production traffic: a catch-all rule at the lowest priority (more specific rules can go in front), forward
# weighted over both target groups. ECS owns the weights from the first deployment on.
resource "aws_lb_listener_rule" "production" {
  count = local.traffic_shift ? 1 : 0

  listener_arn = local.production_listener
  priority     = 50000

  action {
    type = "forward"

    forward {
      target_group {
        arn    = aws_lb_target_group.this.arn
        weight = 100
      }

      target_group {
        arn    = aws_lb_target_group.alternate[0].arn
        weight = 0
      }
    }
  }

  condition {
    path_pattern {
      values = ["/*"]
    }
  }

  lifecycle {
    ignore_changes = [action]
  }

  tags = var.tags
}

# Test traffic: its own port, reachable only from test_listener_cidrs / test_listener_source_security_group_ids
# (never 0.0.0.0/0). Anything but the rule answers 404; during a deployment the rule reaches the new revision.
#trivy:ignore:AVD-AWS-0054 Plain HTTP only when no certificate_arn is given (trials, internal services); with one the test listener is HTTPS.
resource "aws_lb_listener" "test" {
  #checkov:skip=CKV_AWS_2:Plain HTTP only when no certificate_arn is given; with one the test listener is HTTPS.
  #checkov:skip=CKV_AWS_103:Plain HTTP only when no certificate_arn is given; the HTTPS test listener uses var.ssl_policy (TLS 1.2+).
  count = local.traffic_shift ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = local.test_port
  protocol          = local.https ? "HTTPS" : "HTTP"
  ssl_policy        = local.https ? var.ssl_policy : null
  certificate_arn   = var.certificate_arn

  default_action {
    type = "fixed-response"

    fixed_response {
      content_type = "text/plain"
      message_body = "no test route"
      status_code  = "404"
    }
  }

  tags = var.tags
}

resource "aws_lb_listener_rule" "test" {
  count = local.traffic_shift ? 1 : 0

  listener_arn = aws_lb_listener.test[0].arn
  priority     = 50000

  action {
    type = "forward"

    forward {
      target_group {
        arn    = aws_lb_target_group.this.arn
        weight = 100
      }

      target_group {
        arn    = aws_lb_target_group.alternate[0].arn
        weight = 0
      }
    }
  }

  condition {
    path_pattern {
      values = ["/*"]
    }
  }

  lifecycle {
    ignore_changes = [action]
  }

  tags = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "lb_test_listener_cidrs" {
  for_each = local.traffic_shift ? toset(var.test_listener_cidrs) : toset([])

  security_group_id = aws_security_group.lb.id
  description       = "Verification clients to the test listener (new revision before production traffic)"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = local.test_port
  to_port           = local.test_port
}

resource "aws_vpc_security_group_ingress_rule" "lb_test_listener_groups" {
  for_each = local.traffic_shift ? toset(var.test_listener_source_security_group_ids) : toset([])

  security_group_id            = aws_security_group.lb.id
  description                  = "Verification clients (by security group) to the test listener"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = local.test_port
  to_port                      = local.test_port
}

# ECS's infrastructure role for load balancers: registers tasks in the target groups and moves the listener
# rules. AWS's managed policy, not a copy: ECS's needs grow with it (v2 in July 2025, v6 in February 2026),
# and a stale copy would break deployments half-way through a traffic shift.
data "aws_iam_policy_document" "ecs_service_trust" {
  statement {
    sid     = "EcsManagesLoadBalancers"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "load_balancers" {
  count = local.traffic_shift ? 1 : 0

  name               = "${var.name}-ecs-lb"
  description        = "ECS shifts traffic between the target groups of ${var.service_name} (${var.deployment_strategy})"
  assume_role_policy = data.aws_iam_policy_document.ecs_service_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "load_balancers" {
  count = local.traffic_shift ? 1 : 0

  role       = aws_iam_role.load_balancers[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
}

# Lambda lifecycle hooks without a role_arn of their own: ECS invokes exactly those functions.
resource "aws_iam_role" "lifecycle_hooks" {
  count = length(local.hook_functions_without_role) > 0 ? 1 : 0

  name               = "${var.name}-ecs-hooks"
  description        = "ECS invokes the deployment lifecycle hooks of ${var.service_name}"
  assume_role_policy = data.aws_iam_policy_document.ecs_service_trust.json
  tags               = var.tags
}

data "aws_iam_policy_document" "lifecycle_hooks" {
  count = length(local.hook_functions_without_role) > 0 ? 1 : 0

  statement {
    sid       = "InvokeOwnHooksOnly"
    actions   = ["lambda:InvokeFunction"]
    resources = local.hook_functions_without_role
  }
}

resource "aws_iam_role_policy" "lifecycle_hooks" {
  count = length(local.hook_functions_without_role) > 0 ? 1 : 0

  name   = "invoke-lifecycle-hooks"
  role   = aws_iam_role.lifecycle_hooks[0].id
  policy = data.aws_iam_policy_document.lifecycle_hooks[0].json
}

# The rollback alarms again, on the alternate target group: whichever group holds the new revision, its
# failing health checks or 5xx roll the deployment back (on test traffic already, before production).
resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts_alternate" {
  count = local.traffic_shift ? 1 : 0

  alarm_name          = "${var.name}-unhealthy-targets-alt"
  alarm_description   = "Targets of ${var.service_name} in the alternate target group failing load balancer health checks (rolls deployments back)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = local.lb_alternate_dims
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_to
  ok_actions          = local.alarm_to
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "target_5xx_alternate" {
  count = local.traffic_shift ? 1 : 0

  alarm_name          = "${var.name}-target-5xx-alt"
  alarm_description   = "More than ${var.target_5xx_alarm_count} 5xx responses a minute from ${var.service_name}'s alternate target group (rolls deployments back)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  dimensions          = local.lb_alternate_dims
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 2
  datapoints_to_alarm = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.target_5xx_alarm_count
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_to
  ok_actions          = local.alarm_to
  tags                = var.tags
}

# A warning, not an error (sources may be added outside this module): with no allowed source, nothing can
# run checks against the new revision before production traffic moves.
check "test_listener_has_sources" {
  assert {
    condition     = !local.traffic_shift || length(var.test_listener_cidrs) + length(var.test_listener_source_security_group_ids) > 0
    error_message = "deployment_strategy ${var.deployment_strategy} without test_listener_cidrs or test_listener_source_security_group_ids: no verification client can reach the test listener."
  }
}
