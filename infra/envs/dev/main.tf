data "aws_caller_identity" "current" {}

module "environment" {
  source = "../../modules/environment"

  environment       = "dev"
  region            = var.region
  github_repository = var.github_repository
  ledger_bucket     = coalesce(var.ledger_bucket, "envpromote-ledger-${data.aws_caller_identity.current.account_id}")
  service           = var.service
  slack_channel_id  = var.slack_channel_id
  slack_team_id     = var.slack_team_id
}
