data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

data "aws_vpc" "default" {
  count   = var.vpc_id == null ? 1 : 0
  default = true
}

data "aws_subnets" "default" {
  count = var.vpc_id == null ? 1 : 0

  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.default[0].id]
  }
}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region

  vpc_id = var.vpc_id == null ? data.aws_vpc.default[0].id : var.vpc_id
  # With a VPC given, tasks run in its private subnets without public IPs; the default VPC only has
  # public subnets, so trials there need public IPs to pull images.
  task_subnet_ids  = var.vpc_id == null ? data.aws_subnets.default[0].ids : var.private_subnet_ids
  lb_subnet_ids    = var.vpc_id == null ? data.aws_subnets.default[0].ids : var.public_subnet_ids
  assign_public_ip = var.vpc_id == null

  https    = var.certificate_arn != null
  url      = "${local.https ? "https" : "http"}://${aws_lb.this.dns_name}"
  lb_dims  = { LoadBalancer = aws_lb.this.arn_suffix, TargetGroup = aws_lb_target_group.this.arn_suffix }
  ecs_dims = { ClusterName = aws_ecs_cluster.this.name, ServiceName = var.service_name }
  alarm_to = [var.alarm_topic_arn]

  # BLUE_GREEN, CANARY and LINEAR shift traffic between two target groups through listener rules
  # (traffic_shift.tf); ROLLING replaces tasks behind the one target group.
  traffic_shift       = var.deployment_strategy != "ROLLING"
  production_listener = local.https ? aws_lb_listener.https[0].arn : aws_lb_listener.http[0].arn
  test_port           = coalesce(var.test_listener_port, local.https ? 8443 : 8080)
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

# Roles ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "ecs_tasks_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:*"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  description        = "ECS pulls images and writes logs for ${var.service_name}"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

# The application's own permissions; attach what the app needs outside this module.
resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  description        = "Runtime identity of ${var.service_name}"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
  tags               = var.tags
}

# Network -------------------------------------------------------------------------------------------

resource "aws_security_group" "lb" {
  name        = "${var.name}-lb"
  description = "Load balancer of ${var.service_name}"
  vpc_id      = local.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "lb_listener" {
  for_each = toset(var.ingress_cidrs)

  security_group_id = aws_security_group.lb.id
  description       = "Clients to the ${local.https ? "HTTPS" : "HTTP"} listener"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = local.https ? 443 : 80
  to_port           = local.https ? 443 : 80
}

resource "aws_vpc_security_group_ingress_rule" "lb_redirect" {
  for_each = local.https ? toset(var.ingress_cidrs) : toset([])

  security_group_id = aws_security_group.lb.id
  description       = "Clients to the HTTP listener that redirects to HTTPS"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_egress_rule" "lb_to_tasks" {
  security_group_id            = aws_security_group.lb.id
  description                  = "Load balancer to the tasks"
  referenced_security_group_id = aws_security_group.tasks.id
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
}

resource "aws_security_group" "tasks" {
  name        = "${var.name}-tasks"
  description = "Tasks of ${var.service_name}"
  vpc_id      = local.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_lb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "Only the load balancer reaches the container port"
  referenced_security_group_id = aws_security_group.lb.id
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
}

#trivy:ignore:AVD-AWS-0104 Tasks pull images and send logs over HTTPS to regional AWS endpoints (through NAT or VPC endpoints); the destination addresses are not fixed.
resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  security_group_id = aws_security_group.tasks.id
  description       = "HTTPS to AWS APIs (ECR, CloudWatch Logs) and dependencies"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

# Load balancer -------------------------------------------------------------------------------------

#trivy:ignore:AVD-AWS-0053 A public web service needs an internet-facing load balancer; set internal_load_balancer for private ones.
resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_91:Access logs need an organisation-specific log bucket; enable them outside this module.
  #checkov:skip=CKV2_AWS_28:WAF rules are application-specific; attach a web ACL outside this module.
  #checkov:skip=CKV_AWS_150:Deletion protection is the variable load_balancer_deletion_protection (default true); dev turns it off to be torn down freely.
  #checkov:skip=CKV2_AWS_20:HTTP redirects to HTTPS whenever certificate_arn is given; without one there is no HTTPS to redirect to.
  name                       = "${var.name}-lb"
  internal                   = var.internal_load_balancer
  load_balancer_type         = "application"
  security_groups            = [aws_security_group.lb.id]
  subnets                    = local.lb_subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = var.load_balancer_deletion_protection
  tags                       = var.tags
}

resource "aws_lb_target_group" "this" {
  #checkov:skip=CKV_AWS_378:TLS terminates at the load balancer; load balancer to task traffic stays inside the VPC security groups.
  name                 = "${var.name}-tg"
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

  lifecycle {
    precondition {
      condition     = var.health_check_timeout < var.health_check_interval
      error_message = "health_check_timeout must be less than health_check_interval."
    }
  }

  tags = var.tags
}

resource "aws_lb_listener" "https" {
  count = local.https ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = var.tags
}

resource "aws_lb_listener" "http_redirect" {
  count = local.https ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }

  tags = var.tags
}

#trivy:ignore:AVD-AWS-0054 Plain HTTP only when no certificate_arn is given (trials, internal services); give one for HTTPS.
resource "aws_lb_listener" "http" {
  #checkov:skip=CKV_AWS_2:Plain HTTP only when no certificate_arn is given (trials, internal services); give one for HTTPS.
  #checkov:skip=CKV_AWS_103:Plain HTTP only when no certificate_arn is given; the HTTPS listener uses a TLS 1.2+ policy.
  count = local.https ? 0 : 1

  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = var.tags
}

# Service -------------------------------------------------------------------------------------------

# The placeholder revision the service starts with: a tiny HTTP server that answers the health check.
# EnvPromote registers every later revision of this family by digest; Terraform ignores them.
resource "aws_ecs_task_definition" "bootstrap" {
  family                   = var.family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.cpu)
  memory                   = tostring(var.memory)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "www"
  }

  container_definitions = jsonencode([{
    name                   = var.container_name
    image                  = var.bootstrap_image
    essential              = true
    readonlyRootFilesystem = true
    entryPoint             = ["sh", "-c"]
    command = [
      "echo ok > /www/${trimprefix(var.health_check_path, "/")} && exec httpd -f -p ${var.container_port} -h /www",
    ]
    portMappings = [{ containerPort = var.container_port, protocol = "tcp" }]
    mountPoints  = [{ sourceVolume = "www", containerPath = "/www" }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = local.region
        awslogs-stream-prefix = var.container_name
      }
    }
  }])

  tags = var.tags
}

resource "aws_ecs_service" "this" {
  name                               = var.service_name
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.bootstrap.arn
  desired_count                      = var.desired_count
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = var.health_check_grace_period
  enable_execute_command             = false
  propagate_tags                     = "SERVICE"
  wait_for_steady_state              = false

  deployment_controller {
    type = "ECS"
  }

  # ROLLING (default), or a traffic-shifting strategy with its bake times and lifecycle hooks. AWS
  # provider 6.25.0's lifecycle_hook block has no target_type (PAUSE): variable lifecycle_hooks refuses
  # PAUSE hooks until the provider has it (README, "PAUSE hooks").
  deployment_configuration {
    strategy             = var.deployment_strategy
    bake_time_in_minutes = local.traffic_shift ? tostring(var.bake_time_minutes) : null

    dynamic "canary_configuration" {
      for_each = var.deployment_strategy == "CANARY" ? [1] : []

      content {
        canary_percent              = var.canary_percent
        canary_bake_time_in_minutes = tostring(var.canary_bake_time_minutes)
      }
    }

    dynamic "linear_configuration" {
      for_each = var.deployment_strategy == "LINEAR" ? [1] : []

      content {
        step_percent              = var.linear_step_percent
        step_bake_time_in_minutes = tostring(var.linear_step_bake_time_minutes)
      }
    }

    dynamic "lifecycle_hook" {
      for_each = var.lifecycle_hooks

      content {
        hook_target_arn  = lifecycle_hook.value.hook_target_arn
        role_arn         = coalesce(lifecycle_hook.value.role_arn, one(aws_iam_role.lifecycle_hooks[*].arn))
        lifecycle_stages = lifecycle_hook.value.lifecycle_stages
        hook_details     = lifecycle_hook.value.hook_details
      }
    }
  }

  # A rollout whose tasks keep failing is stopped and rolled back to the last completed revision.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # A rollout whose new tasks serve 5xx or fail load balancer health checks is rolled back too.
  # Traffic-shifting strategies add the same two alarms on the alternate target group (traffic_shift.tf):
  # a revision failing on test traffic or in a canary rolls back before it takes all production traffic.
  alarms {
    alarm_names = concat(
      [aws_cloudwatch_metric_alarm.target_5xx.alarm_name, aws_cloudwatch_metric_alarm.unhealthy_hosts.alarm_name],
      aws_cloudwatch_metric_alarm.target_5xx_alternate[*].alarm_name,
      aws_cloudwatch_metric_alarm.unhealthy_hosts_alternate[*].alarm_name,
    )
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = local.task_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = local.assign_public_ip
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this.arn
    container_name   = var.container_name
    container_port   = var.container_port

    # Traffic-shifting strategies: ECS registers the new revision in the other target group, moves the
    # test listener rule to it, then the production listener rule's weights (traffic_shift.tf).
    dynamic "advanced_configuration" {
      for_each = local.traffic_shift ? [1] : []

      content {
        alternate_target_group_arn = aws_lb_target_group.alternate[0].arn
        production_listener_rule   = aws_lb_listener_rule.production[0].arn
        test_listener_rule         = aws_lb_listener_rule.test[0].arn
        role_arn                   = aws_iam_role.load_balancers[0].arn
      }
    }
  }

  # EnvPromote owns the task definition (it registers a revision per promotion) and the desired count
  # may be scaled outside Terraform: applying must never roll either back.
  lifecycle {
    ignore_changes = [task_definition, desired_count]

    precondition {
      condition     = var.vpc_id == null || (length(var.private_subnet_ids) > 0 && length(var.public_subnet_ids) >= 2)
      error_message = "With vpc_id, give private_subnet_ids (tasks) and at least two public_subnet_ids (load balancer)."
    }

    # ECS accepts lifecycle hooks on the traffic-shifting strategies; their stages (TEST_TRAFFIC_SHIFT, ...)
    # do not exist in a rolling deployment.
    precondition {
      condition     = local.traffic_shift || length(var.lifecycle_hooks) == 0
      error_message = "lifecycle_hooks need deployment_strategy BLUE_GREEN, CANARY or LINEAR."
    }
  }

  depends_on = [aws_lb_listener.http, aws_lb_listener.https, aws_lb_listener_rule.production, aws_lb_listener_rule.test]

  tags = var.tags
}

# Alarms --------------------------------------------------------------------------------------------
# Every alarm notifies the topic on ALARM and on OK. Missing data: utilisation and load balancer
# alarms treat silence as fine (no traffic, or no tasks, which the running-tasks alarm reports);
# the running-tasks alarm treats silence as breaching (no metric means ECS reports no running tasks).

resource "aws_cloudwatch_metric_alarm" "cpu" {
  alarm_name          = "${var.name}-cpu-high"
  alarm_description   = "CPU of ${var.service_name} above ${var.cpu_alarm_percent}% for 3 minutes"
  namespace           = "AWS/ECS"
  metric_name         = "CPUUtilization"
  dimensions          = local.ecs_dims
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.cpu_alarm_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_to
  ok_actions          = local.alarm_to
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "memory" {
  alarm_name          = "${var.name}-memory-high"
  alarm_description   = "Memory of ${var.service_name} above ${var.memory_alarm_percent}% for 3 minutes"
  namespace           = "AWS/ECS"
  metric_name         = "MemoryUtilization"
  dimensions          = local.ecs_dims
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.memory_alarm_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_to
  ok_actions          = local.alarm_to
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts" {
  alarm_name          = "${var.name}-unhealthy-targets"
  alarm_description   = "Targets of ${var.service_name} failing load balancer health checks (rolls deployments back)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = local.lb_dims
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

resource "aws_cloudwatch_metric_alarm" "target_5xx" {
  alarm_name          = "${var.name}-target-5xx"
  alarm_description   = "More than ${var.target_5xx_alarm_count} 5xx responses a minute from ${var.service_name} (rolls deployments back)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  dimensions          = local.lb_dims
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

resource "aws_cloudwatch_metric_alarm" "response_time" {
  alarm_name          = "${var.name}-response-time"
  alarm_description   = "p95 response time of ${var.service_name} above ${var.response_time_alarm_seconds} s for 3 minutes"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = local.lb_dims
  extended_statistic  = "p95"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.response_time_alarm_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_to
  ok_actions          = local.alarm_to
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "running_tasks" {
  alarm_name          = "${var.name}-running-below-desired"
  alarm_description   = "Fewer running tasks than desired for ${var.service_name} for 3 minutes"
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_to
  ok_actions          = local.alarm_to

  metric_query {
    id          = "missing"
    expression  = "desired - running"
    label       = "Desired minus running tasks"
    return_data = true
  }

  metric_query {
    id = "desired"

    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "DesiredTaskCount"
      dimensions  = local.ecs_dims
      stat        = "Minimum"
      period      = 60
    }
  }

  metric_query {
    id = "running"

    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "RunningTaskCount"
      dimensions  = local.ecs_dims
      stat        = "Minimum"
      period      = 60
    }
  }

  tags = var.tags
}
