output "queue_url" {
  description = "URL of the events queue (envpromote.toml [environments.<env>] events_queue)."
  value       = aws_sqs_queue.events.id
}

output "queue_arn" {
  description = "ARN of the events queue (the deploy role may receive and delete from it)."
  value       = aws_sqs_queue.events.arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dlq.id
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "rule_arns" {
  description = "ARNs of the EventBridge rules allowed to send to the queue."
  value       = local.rule_arns
}
