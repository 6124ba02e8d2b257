# Values for staging that hold in any account (see dev.tfvars).
region = "us-east-1"

service = {
  desired_count      = 2
  log_retention_days = 30

  # ROLLING | BLUE_GREEN | CANARY | LINEAR (modules/ecs-fargate-service README, "Deployment strategies").
  # To rehearse production's blue/green here: deployment_strategy = "BLUE_GREEN" and the verification
  # clients' addresses in test_listener_cidrs (account-specific: put them in a local *.auto.tfvars).
  deployment_strategy = "ROLLING"
}
