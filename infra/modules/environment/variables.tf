variable "environment" {
  description = "Environment name; must match a key of [environments] in envpromote.toml and a GitHub environment."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.environment))
    error_message = "environment must be 2-21 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "project" {
  description = "Project prefix of every resource name (envpromote-<environment>-...)."
  type        = string
  default     = "envpromote"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,12}$", var.project))
    error_message = "project must be 2-13 lowercase letters, digits or '-'."
  }
}

variable "region" {
  description = "AWS region of the environment."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "github_repository" {
  description = "GitHub repository (owner/name) whose environment <environment> may deploy here."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name."
  }
}

variable "repository_name" {
  description = "Name of the shared ECR repository (created by infra/envs/shared)."
  type        = string
  default     = "envpromote-app"

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.repository_name))
    error_message = "repository_name must be a valid ECR repository name."
  }
}

variable "ledger_bucket" {
  description = "Name of the shared release-ledger bucket (created by infra/envs/shared)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.ledger_bucket))
    error_message = "ledger_bucket must be a valid S3 bucket name."
  }
}

variable "ledger_prefix" {
  description = "Key prefix of the release records in the ledger bucket."
  type        = string
  default     = "releases"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9/_.-]*[A-Za-z0-9]$", var.ledger_prefix))
    error_message = "ledger_prefix must be a key prefix without leading or trailing slash."
  }
}

variable "lock_table" {
  description = "Name of the shared lock table (created by infra/envs/shared)."
  type        = string
  default     = "envpromote-locks"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.lock_table))
    error_message = "lock_table must be a valid DynamoDB table name."
  }
}

variable "service" {
  description = "Service settings passed to modules/ecs-fargate-service (any of its optional variables, for example desired_count, vpc_id, certificate_arn, deregistration_delay)."
  type = object({
    container_name                    = optional(string, "web")
    container_port                    = optional(number, 8080)
    cpu                               = optional(number, 256)
    memory                            = optional(number, 512)
    desired_count                     = optional(number, 2)
    vpc_id                            = optional(string)
    private_subnet_ids                = optional(list(string), [])
    public_subnet_ids                 = optional(list(string), [])
    internal_load_balancer            = optional(bool, false)
    ingress_cidrs                     = optional(list(string), ["0.0.0.0/0"])
    certificate_arn                   = optional(string)
    load_balancer_deletion_protection = optional(bool, true)
    health_check_path                 = optional(string, "/healthz")
    health_check_interval             = optional(number, 5)
    health_check_timeout              = optional(number, 3)
    healthy_threshold                 = optional(number, 2)
    unhealthy_threshold               = optional(number, 2)
    deregistration_delay              = optional(number, 15)
    health_check_grace_period         = optional(number, 30)
    log_retention_days                = optional(number, 90)
    # Deployment strategy (modules/ecs-fargate-service README, "Deployment strategies").
    deployment_strategy           = optional(string, "ROLLING")
    bake_time_minutes             = optional(number, 5)
    canary_percent                = optional(number, 10)
    canary_bake_time_minutes      = optional(number, 5)
    linear_step_percent           = optional(number, 25)
    linear_step_bake_time_minutes = optional(number, 2)
    lifecycle_hooks = optional(list(object({
      target_type      = optional(string, "AWS_LAMBDA")
      hook_target_arn  = optional(string)
      role_arn         = optional(string)
      lifecycle_stages = list(string)
      hook_details     = optional(string)
    })), [])
    test_listener_port                      = optional(number)
    test_listener_cidrs                     = optional(list(string), [])
    test_listener_source_security_group_ids = optional(list(string), [])
  })
  default = {}
}

variable "events_retention_seconds" {
  description = "Retention of the ECS events queue (short: events matter only while a rollout is watched)."
  type        = number
  default     = 3600

  validation {
    condition     = var.events_retention_seconds >= 60 && var.events_retention_seconds <= 86400
    error_message = "events_retention_seconds must be between 60 and 86400."
  }
}

variable "slack_channel_id" {
  description = "Optional Slack channel for alarm notifications through AWS Chatbot."
  type        = string
  default     = null
}

variable "slack_team_id" {
  description = "Slack workspace id authorised in AWS Chatbot (with slack_channel_id)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource of this environment."
  type        = map(string)
  default     = {}
}
