output "bucket_name" {
  description = "Ledger bucket name (envpromote.toml [ledger] bucket)."
  value       = aws_s3_bucket.ledger.bucket
}

output "bucket_arn" {
  description = "Ledger bucket ARN, for IAM policies."
  value       = aws_s3_bucket.ledger.arn
}

output "prefix" {
  description = "Key prefix of the release records (envpromote.toml [ledger] prefix)."
  value       = var.prefix
}

output "object_lock_mode" {
  description = "Object Lock mode of the bucket, lowercase as envpromote.toml [ledger] object_lock expects (none, governance, compliance)."
  value       = lower(var.object_lock_mode)
}

output "retention_days" {
  description = "Default Object Lock retention in days (0 when Object Lock is off), as envpromote.toml [ledger] retention_days."
  value       = local.object_lock ? var.retention_days : 0
}

output "lock_table_name" {
  description = "Lock table name (envpromote.toml [lock] table)."
  value       = aws_dynamodb_table.locks.name
}

output "lock_table_arn" {
  description = "Lock table ARN, for IAM policies."
  value       = aws_dynamodb_table.locks.arn
}

output "kms_key_arn" {
  description = "KMS key that encrypts the ledger and the lock table."
  value       = local.kms_key_arn
}
