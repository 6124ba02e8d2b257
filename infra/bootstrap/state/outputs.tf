output "bucket" {
  description = "State bucket name: pass it as --state-bucket to `invoke infra.init` (or set ENVPROMOTE_TF_STATE_BUCKET)."
  value       = aws_s3_bucket.state.bucket
}

output "region" {
  description = "Region of the state bucket."
  value       = var.region
}

output "kms_key_arn" {
  description = "KMS key that encrypts the state."
  value       = aws_kms_key.state.arn
}
