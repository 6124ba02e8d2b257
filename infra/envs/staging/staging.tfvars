# Values for staging that hold in any account (see dev.tfvars).
region = "us-east-1"

service = {
  desired_count      = 2
  log_retention_days = 30
}
