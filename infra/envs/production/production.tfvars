# Values for production that hold in any account (see dev.tfvars).
region = "us-east-1"

service = {
  cpu                               = 512
  memory                            = 1024
  desired_count                     = 3
  load_balancer_deletion_protection = true
  log_retention_days                = 365
}
