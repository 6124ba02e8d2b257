output "function_name" {
  description = "The tagger function (re-drive or invoke it by hand with an S3 event for a record key)."
  value       = aws_lambda_function.tagger.function_name
}

output "function_arn" {
  description = "ARN of the tagger function."
  value       = aws_lambda_function.tagger.arn
}

output "role_arn" {
  description = "The function's role: the only principal besides the build role allowed ecr:PutImage."
  value       = aws_iam_role.tagger.arn
}

output "dead_letter_queue_arn" {
  description = "Events the function gave up on (alarmed)."
  value       = aws_sqs_queue.dead_letters.arn
}
