output "topic_arn" {
  description = "ARN of the topic that alarms send to (alarm_actions and ok_actions)."
  value       = aws_sns_topic.this.arn
}

output "topic_name" {
  description = "Name of the topic."
  value       = aws_sns_topic.this.name
}

output "kms_key_arn" {
  description = "Customer-managed key that encrypts the topic."
  value       = aws_kms_key.topic.arn
}

output "chatbot_configuration_arn" {
  description = "ARN of the AWS Chatbot Slack channel configuration, or null when Slack is not wired."
  value       = local.chatbot ? aws_chatbot_slack_channel_configuration.this[0].chat_configuration_arn : null
}
