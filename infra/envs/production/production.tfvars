# Values for production that hold in any account (see dev.tfvars).
region = "us-east-1"

service = {
  cpu                               = 512
  memory                            = 1024
  desired_count                     = 3
  load_balancer_deletion_protection = true
  log_retention_days                = 365

  # ROLLING | BLUE_GREEN | CANARY | LINEAR (modules/ecs-fargate-service README, "Deployment strategies").
  # Intended: BLUE_GREEN with a PAUSE hook at POST_TEST_TRAFFIC_SHIFT, so EnvPromote verifies the new
  # revision on the test listener and only then lets ECS move production traffic:
  #   deployment_strategy = "BLUE_GREEN"
  #   bake_time_minutes   = 10
  #   lifecycle_hooks     = [{ target_type = "PAUSE", lifecycle_stages = ["POST_TEST_TRAFFIC_SHIFT"] }]
  #   test_listener_cidrs = [<verification clients>]   # account-specific: *.auto.tfvars
  # The pinned AWS provider (6.25.0) cannot declare a PAUSE hook (its lifecycle_hook has no target_type),
  # and blue/green without the pause would let ECS move production traffic before EnvPromote's verdict.
  # So production keeps ROLLING until the provider has target_type (README, "PAUSE hooks").
  deployment_strategy = "ROLLING"
}
