# The registry root: what every environment shares. Applied once per account, before the
# environments, which look these resources up by name (never through this root's state).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

data "aws_iam_openid_connect_provider" "github" {
  url = "https://token.actions.githubusercontent.com"
}

locals {
  ledger_bucket = coalesce(var.ledger_bucket, "${var.project}-ledger-${data.aws_caller_identity.current.account_id}")
  # The deploy role modules/environment creates per environment (<project>-<env>-deploy): the bucket policy
  # lets each write only its own environment's records. The roles need not exist yet (a condition value).
  environment_writers = {
    for env in var.environments :
    env => "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:role/${var.project}-${env}-deploy"
  }
  # The service modules/environment creates per environment (cluster <project>-<env>, service
  # <project>-<env>-web): the only services the board role may describe. They need not exist yet.
  board_service_arns = [
    for env in var.environments :
    "arn:${data.aws_partition.current.partition}:ecs:${lookup(var.environment_regions, env, var.region)}:${data.aws_caller_identity.current.account_id}:service/${var.project}-${env}/${var.project}-${env}-web"
  ]
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

  environment_writers = local.environment_writers
}

# Marks every digest a ledger success record names (promoted-<env>-<digest12>) so it never expires.
# The only image writer besides the build role; deploy roles have no ECR write at all.
module "promotion_tagger" {
  source = "../../modules/promotion-tagger"

  name                = "${var.project}-promotion-tagger"
  ledger_bucket_name  = module.ledger.bucket_name
  ledger_bucket_arn   = module.ledger.bucket_arn
  ledger_prefix       = module.ledger.prefix
  ledger_kms_key_arn  = module.ledger.kms_key_arn
  repository_name     = module.registry.repository_name
  repository_arn      = module.registry.repository_arn
  promoted_tag_prefix = module.registry.promoted_tag_prefix
  environments        = var.environments
  alarm_actions       = var.tagger_alarm_actions
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

# The release board's role (.github/workflows/board.yml): read-only, trusted only by the GitHub environment
# `board`. Reads the ledger, the chain's services and task definitions, and the chain's lock items.
module "board_role" {
  source = "../../modules/board-role"

  name               = "${var.project}-board"
  oidc_provider_arn  = data.aws_iam_openid_connect_provider.github.arn
  github_repository  = var.github_repository
  region             = var.region
  ledger_bucket_arn  = module.ledger.bucket_arn
  ledger_prefix      = module.ledger.prefix
  ledger_kms_key_arn = module.ledger.kms_key_arn
  lock_table_arn     = module.ledger.lock_table_arn
  lock_ids           = var.environments
  service_arns       = local.board_service_arns
  assume_role_arns   = var.board_assume_role_arns
}
