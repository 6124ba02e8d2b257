# The registry root: what every environment shares. Applied once per account, before the
# environments, which look these resources up by name (never through this root's state).

data "aws_caller_identity" "current" {}

data "aws_iam_openid_connect_provider" "github" {
  url = "https://token.actions.githubusercontent.com"
}

locals {
  ledger_bucket = coalesce(var.ledger_bucket, "${var.project}-ledger-${data.aws_caller_identity.current.account_id}")
}

module "registry" {
  source = "../../modules/ecr"

  name = var.repository_name
}

module "ledger" {
  source = "../../modules/ledger"

  bucket_name      = local.ledger_bucket
  prefix           = var.ledger_prefix
  object_lock_mode = var.object_lock_mode
  retention_days   = var.retention_days
  lock_table_name  = var.lock_table
}

# The only role that can push images: trusted by pushes to the build branch, nothing else.
module "build_role" {
  source = "../../modules/github-oidc-role"

  name               = "${var.project}-build"
  kind               = "build"
  oidc_provider_arn  = data.aws_iam_openid_connect_provider.github.arn
  github_repository  = var.github_repository
  branch             = var.build_branch
  ecr_repository_arn = module.registry.repository_arn
  region             = var.region
  ledger_bucket_arn  = module.ledger.bucket_arn
  ledger_prefix      = module.ledger.prefix
  ledger_kms_key_arn = module.ledger.kms_key_arn
}
