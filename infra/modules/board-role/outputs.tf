output "role_arn" {
  description = "ARN of the board role (the GitHub variable ENVPROMOTE_BOARD_ROLE_ARN of environment board)."
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
