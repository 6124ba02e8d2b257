output "repository_name" {
  description = "Repository name (envpromote.toml [registry] repository)."
  value       = aws_ecr_repository.this.name
}

output "repository_arn" {
  description = "Repository ARN, for IAM policies."
  value       = aws_ecr_repository.this.arn
}

output "repository_url" {
  description = "Repository URL (<account>.dkr.ecr.<region>.amazonaws.com/<name>); images are referenced as <url>@sha256:<digest>."
  value       = aws_ecr_repository.this.repository_url
}

output "registry_id" {
  description = "The AWS account id that owns the registry."
  value       = aws_ecr_repository.this.registry_id
}

output "kms_key_arn" {
  description = "KMS key that encrypts the images."
  value       = local.kms_key_arn
}

output "promoted_tag_prefix" {
  description = "Tag prefix that marks promoted images (protected from expiry)."
  value       = var.promoted_tag_prefix
}
