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
  description = "Alarms that roll a deployment back (5xx and unhealthy targets)."
  value       = [aws_cloudwatch_metric_alarm.target_5xx.alarm_name, aws_cloudwatch_metric_alarm.unhealthy_hosts.alarm_name]
}

output "alarm_arns" {
  description = "ARNs of all the service's alarms (EnvPromote reads their state)."
  value = [
    aws_cloudwatch_metric_alarm.cpu.arn,
    aws_cloudwatch_metric_alarm.memory.arn,
    aws_cloudwatch_metric_alarm.unhealthy_hosts.arn,
    aws_cloudwatch_metric_alarm.target_5xx.arn,
    aws_cloudwatch_metric_alarm.response_time.arn,
    aws_cloudwatch_metric_alarm.running_tasks.arn,
  ]
}

output "rollout_floor_seconds" {
  description = "Lower bound of a healthy rollout's duration with these settings: healthy_threshold x interval + deregistration_delay (task start time comes on top)."
  value       = var.healthy_threshold * var.health_check_interval + var.deregistration_delay
}
