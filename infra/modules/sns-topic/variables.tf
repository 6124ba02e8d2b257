variable "name" {
  description = "Topic name, for example envpromote-production-alarms."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,256}$", var.name))
    error_message = "name must be 1-256 letters, digits, '_' or '-'."
  }
}

variable "publisher_services" {
  description = "AWS service principals allowed to publish (always restricted to this account by aws:SourceAccount and to source_arn_patterns by aws:SourceArn)."
  type        = list(string)
  default     = ["cloudwatch.amazonaws.com"]

  validation {
    condition     = alltrue([for service in var.publisher_services : can(regex("^[a-z0-9.-]+\\.amazonaws\\.com$", service))])
    error_message = "publisher_services must be service principals such as cloudwatch.amazonaws.com."
  }
}

variable "source_arn_patterns" {
  description = "ARN patterns of the resources that may publish (aws:SourceArn, ArnLike). Defaults to every CloudWatch alarm of this account and region."
  type        = list(string)
  default     = null

  validation {
    condition     = var.source_arn_patterns == null || alltrue([for arn in coalesce(var.source_arn_patterns, []) : startswith(arn, "arn:")])
    error_message = "source_arn_patterns must be ARN patterns (arn:...)."
  }
}

variable "slack_channel_id" {
  description = "Optional Slack channel id for AWS Chatbot notifications (needs slack_team_id and an authorised Slack workspace)."
  type        = string
  default     = null

  validation {
    condition     = var.slack_channel_id == null || can(regex("^[A-Z0-9]{9,11}$", var.slack_channel_id))
    error_message = "slack_channel_id must look like C0123456789."
  }
}

variable "slack_team_id" {
  description = "Slack workspace (team) id authorised in AWS Chatbot; required with slack_channel_id."
  type        = string
  default     = null

  validation {
    condition     = var.slack_team_id == null || can(regex("^[A-Z0-9]{9,11}$", var.slack_team_id))
    error_message = "slack_team_id must look like T0123456789."
  }
}

variable "tags" {
  description = "Tags added to every resource of this module."
  type        = map(string)
  default     = {}
}
