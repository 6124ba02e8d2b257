# Values for dev that hold in any account. Account-specific ones (VPC, subnets, certificate) go in a
# local *.auto.tfvars or TF_VAR_* variables, never here.
region = "us-east-1"

service = {
  desired_count                     = 1
  load_balancer_deletion_protection = false
  log_retention_days                = 14

  # ROLLING | BLUE_GREEN | CANARY | LINEAR (modules/ecs-fargate-service README, "Deployment strategies").
  # Dev rolls: fastest feedback (25 s floor), no second target group or test listener to pay for.
  deployment_strategy = "ROLLING"
}
