output "envpromote" {
  description = "What envpromote.toml needs, in its terms; `invoke infra.output --env <env>` prints it as TOML."
  value       = module.environment.envpromote
}

output "deploy_role_arn" {
  description = "Role this environment's GitHub jobs assume."
  value       = module.environment.deploy_role_arn
}

output "rollout_floor_seconds" {
  description = "Lower bound of a healthy rollout's duration with this environment's health-check settings."
  value       = module.environment.rollout_floor_seconds
}

output "deployment_strategy" {
  description = "How ECS deploys this environment's service (service.deployment_strategy in <env>.tfvars)."
  value       = module.environment.deployment_strategy
}

output "test_url" {
  description = "Test listener URL of a traffic-shifting strategy (null for ROLLING)."
  value       = module.environment.test_url
}
