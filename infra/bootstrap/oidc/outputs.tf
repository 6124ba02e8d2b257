output "oidc_provider_arn" {
  description = "ARN of the GitHub Actions OIDC provider (the roles in infra/envs find it by its URL)."
  value       = aws_iam_openid_connect_provider.github.arn
}
