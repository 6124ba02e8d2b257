variable "region" {
  description = "AWS region of this environment."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "github_repository" {
  description = "GitHub repository (owner/name) whose environment of the same name deploys here (TF_VAR_github_repository; `invoke infra.*` fills it from GITHUB_REPOSITORY)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name."
  }
}

variable "ledger_bucket" {
  description = "Ledger bucket created by infra/envs/shared; null derives envpromote-ledger-<account id> as the shared root does."
  type        = string
  default     = null
}

variable "service" {
  description = "Service settings (see modules/environment variable service): size, VPC, certificate, health checks."
  type        = any
  default     = {}
}

variable "slack_channel_id" {
  description = "Optional Slack channel id for alarm notifications through AWS Chatbot."
  type        = string
  default     = null
}

variable "slack_team_id" {
  description = "Slack workspace id authorised in AWS Chatbot (with slack_channel_id)."
  type        = string
  default     = null
}
