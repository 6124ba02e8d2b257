variable "name" {
  description = "Name prefix of the rules and queues, for example envpromote-production-web."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,60}$", var.name))
    error_message = "name must be 1-60 letters, digits, '_' or '-' (queue and rule names derive from it)."
  }
}

variable "cluster_arn" {
  description = "ARN of the ECS cluster that runs the service."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/.+$", var.cluster_arn))
    error_message = "cluster_arn must be an ECS cluster ARN."
  }
}

variable "service_arn" {
  description = "ARN of the ECS service whose deployment, service-action and stopped-task events are delivered."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:service/.+/.+$", var.service_arn))
    error_message = "service_arn must be an ECS service ARN (arn:aws:ecs:<region>:<account>:service/<cluster>/<service>)."
  }
}

variable "service_name" {
  description = "Name of the ECS service (stopped tasks are matched on group service:<name>)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.service_name))
    error_message = "service_name must be a valid ECS service name."
  }
}

variable "message_retention_seconds" {
  description = "How long an undelivered event stays in the queue. Short: events only matter while a rollout is watched."
  type        = number
  default     = 3600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 86400
    error_message = "message_retention_seconds must be between 60 (1 minute) and 86400 (1 day)."
  }
}

variable "max_receive_count" {
  description = "Receives after which a message that is never deleted moves to the dead-letter queue."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "dlq_retention_seconds" {
  description = "How long dead-lettered events are kept for inspection."
  type        = number
  default     = 345600

  validation {
    condition     = var.dlq_retention_seconds >= 60 && var.dlq_retention_seconds <= 1209600
    error_message = "dlq_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "tags" {
  description = "Tags added to every resource of this module."
  type        = map(string)
  default     = {}
}
