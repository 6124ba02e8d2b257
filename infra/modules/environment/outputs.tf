output "envpromote" {
  description = "What envpromote.toml needs for this environment, in its own terms ([registry], [ledger], [lock] as this environment sees them, and [environments.<env>]); `invoke infra.output --env <env>` prints it as TOML."
  value = {
    registry = {
      repository = data.aws_ecr_repository.app.name
      region     = var.region
    }
    ledger = {
      bucket = data.aws_s3_bucket.ledger.bucket
      prefix = var.ledger_prefix
      region = var.region
    }
    lock = {
      table  = data.aws_dynamodb_table.locks.name
      region = var.region
    }
    environment = {
      name               = var.environment
      region             = var.region
      cluster            = module.service.cluster_name
      service            = module.service.service_name
      family             = module.service.family
      container          = module.service.container_name
      execution_role_arn = module.service.execution_role_arn
      task_role_arn      = module.service.task_role_arn
      role_arn           = module.deploy_role.role_arn
      url                = module.service.url
      events_queue       = module.events.queue_url
      log_group          = module.service.log_group_name
      # envpromote.toml's spelling of the ECS strategy; test_url is where checks reach the new revision
      # before production traffic (null for rolling).
      strategy = lower(module.service.deployment_strategy)
      test_url = module.service.test_url
    }
  }
}

output "deploy_role_arn" {
  description = "Role the GitHub environment's jobs assume (the workflow's role-to-assume)."
  value       = module.deploy_role.role_arn
}

output "alarm_topic_arn" {
  description = "SNS topic of the environment's alarms."
  value       = module.alarms.topic_arn
}

output "rollback_alarm_names" {
  description = "Alarms that roll a deployment back."
  value       = module.service.rollback_alarm_names
}

output "rollout_floor_seconds" {
  description = "Lower bound of a healthy rollout's duration with this environment's health-check settings."
  value       = module.service.rollout_floor_seconds
}

output "deployment_strategy" {
  description = "The service's ECS deployment strategy (ROLLING, BLUE_GREEN, CANARY or LINEAR)."
  value       = module.service.deployment_strategy
}

output "test_url" {
  description = "Test listener URL of a traffic-shifting strategy (null for ROLLING)."
  value       = module.service.test_url
}
