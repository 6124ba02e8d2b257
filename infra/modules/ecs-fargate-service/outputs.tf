output "cluster_name" {
  description = "ECS cluster name (envpromote.toml cluster)."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ECS cluster ARN."
  value       = aws_ecs_cluster.this.arn
}

output "service_name" {
  description = "ECS service name (envpromote.toml service)."
  value       = aws_ecs_service.this.name
}

output "service_arn" {
  description = "ECS service ARN, for IAM policies and event rules."
  value       = "arn:${local.partition}:ecs:${local.region}:${local.account_id}:service/${aws_ecs_cluster.this.name}/${aws_ecs_service.this.name}"
}

output "family" {
  description = "Task definition family (envpromote.toml family)."
  value       = aws_ecs_task_definition.bootstrap.family
}

output "container_name" {
  description = "Application container name (envpromote.toml container)."
  value       = var.container_name
}

output "execution_role_arn" {
  description = "Task execution role ARN (envpromote.toml execution_role_arn)."
  value       = aws_iam_role.execution.arn
}

output "task_role_arn" {
  description = "Task role ARN (envpromote.toml task_role_arn)."
  value       = aws_iam_role.task.arn
}

output "url" {
  description = "The service's URL through the load balancer (envpromote.toml url)."
  value       = local.url
}

output "log_group_name" {
  description = "CloudWatch log group of the containers (envpromote.toml taskdef log_group)."
  value       = aws_cloudwatch_log_group.this.name
}

output "load_balancer_arn" {
  description = "ARN of the application load balancer."
  value       = aws_lb.this.arn
}

output "target_group_arn" {
  description = "ARN of the target group."
  value       = aws_lb_target_group.this.arn
}

output "rollback_alarm_names" {
  description = "Alarms that roll a deployment back (5xx and unhealthy targets; on both target groups with a traffic-shifting strategy)."
  value = concat(
    [aws_cloudwatch_metric_alarm.target_5xx.alarm_name, aws_cloudwatch_metric_alarm.unhealthy_hosts.alarm_name],
    aws_cloudwatch_metric_alarm.target_5xx_alternate[*].alarm_name,
    aws_cloudwatch_metric_alarm.unhealthy_hosts_alternate[*].alarm_name,
  )
}

output "alarm_arns" {
  description = "ARNs of all the service's alarms (EnvPromote reads their state)."
  value = concat([
    aws_cloudwatch_metric_alarm.cpu.arn,
    aws_cloudwatch_metric_alarm.memory.arn,
    aws_cloudwatch_metric_alarm.unhealthy_hosts.arn,
    aws_cloudwatch_metric_alarm.target_5xx.arn,
    aws_cloudwatch_metric_alarm.response_time.arn,
    aws_cloudwatch_metric_alarm.running_tasks.arn,
  ], aws_cloudwatch_metric_alarm.unhealthy_hosts_alternate[*].arn, aws_cloudwatch_metric_alarm.target_5xx_alternate[*].arn)
}

output "rollout_floor_seconds" {
  description = "Lower bound of a healthy deployment's duration with these settings (task start time and any paused hook come on top): healthy_threshold x interval + deregistration_delay, plus for BLUE_GREEN bake_time, CANARY canary_bake_time + bake_time, LINEAR (ceil(100 / step) - 1) x step_bake_time + bake_time."
  value = var.healthy_threshold * var.health_check_interval + var.deregistration_delay + 60 * lookup({
    ROLLING    = 0
    BLUE_GREEN = var.bake_time_minutes
    CANARY     = var.canary_bake_time_minutes + var.bake_time_minutes
    LINEAR     = (ceil(100 / var.linear_step_percent) - 1) * var.linear_step_bake_time_minutes + var.bake_time_minutes
  }, var.deployment_strategy, 0)
}

output "deployment_strategy" {
  description = "The service's ECS deployment strategy (envpromote.toml strategy, in lower case)."
  value       = var.deployment_strategy
}

output "test_url" {
  description = "URL of the test listener (traffic-shifting strategies; null for ROLLING): the new revision answers there before it takes production traffic."
  value       = local.traffic_shift ? "${local.https ? "https" : "http"}://${aws_lb.this.dns_name}:${local.test_port}" : null
}

output "alternate_target_group_arn" {
  description = "ARN of the second target group of traffic-shifting strategies (null for ROLLING)."
  value       = one(aws_lb_target_group.alternate[*].arn)
}

output "production_listener_rule_arn" {
  description = "Listener rule whose weights ECS moves for production traffic (null for ROLLING)."
  value       = one(aws_lb_listener_rule.production[*].arn)
}

output "test_listener_rule_arn" {
  description = "Listener rule of the test listener (null for ROLLING)."
  value       = one(aws_lb_listener_rule.test[*].arn)
}

output "load_balancer_role_arn" {
  description = "ECS infrastructure role for load balancers (null for ROLLING)."
  value       = one(aws_iam_role.load_balancers[*].arn)
}

output "lifecycle_hook_role_arn" {
  description = "Role ECS invokes Lambda lifecycle hooks with when a hook gives no role_arn (null otherwise)."
  value       = one(aws_iam_role.lifecycle_hooks[*].arn)
}
