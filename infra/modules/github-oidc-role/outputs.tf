output "role_arn" {
  description = "ARN of the role (for a deploy role: envpromote.toml role_arn and the workflow's role-to-assume)."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the role."
  value       = aws_iam_role.this.name
}

output "subject" {
  description = "The only OIDC subject (sub claim) the role trusts."
  value       = local.subject
}
