output "envpromote" {
  description = "The shared part of envpromote.toml ([registry], [ledger], [lock]); `invoke infra.output --env shared` prints it as TOML."
  value = {
    registry = {
      repository = module.registry.repository_name
      region     = var.region
    }
    ledger = {
      bucket         = module.ledger.bucket_name
      prefix         = module.ledger.prefix
      region         = var.region
      object_lock    = module.ledger.object_lock_mode
      retention_days = module.ledger.retention_days
    }
    lock = {
      table  = module.ledger.lock_table_name
      region = var.region
    }
  }
}

output "repository_url" {
  description = "ECR repository URL that builds push to (by digest)."
  value       = module.registry.repository_url
}

output "build_role_arn" {
  description = "Role the build workflow assumes to push images."
  value       = module.build_role.role_arn
}

output "board_role_arn" {
  description = "Read-only role the release board's workflow assumes (GitHub variable ENVPROMOTE_BOARD_ROLE_ARN, environment board)."
  value       = module.board_role.role_arn
}

output "promotion_tagger_function" {
  description = "The Lambda function that tags released digests from ledger success records."
  value       = module.promotion_tagger.function_name
}
