variable "region" {
  description = "Region of the shared resources (ECR repository, ledger, lock table)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "project" {
  description = "Project prefix of the resource names."
  type        = string
  default     = "envpromote"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,12}$", var.project))
    error_message = "project must be 2-13 lowercase letters, digits or '-'."
  }
}

variable "github_repository" {
  description = "GitHub repository (owner/name) whose pushes to build_branch may push images (TF_VAR_github_repository; `invoke infra.*` fills it from GITHUB_REPOSITORY)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name."
  }
}

variable "build_branch" {
  description = "Branch whose pushes assume the build role."
  type        = string
  default     = "main"
}

variable "repository_name" {
  description = "ECR repository name (envpromote.toml [registry] repository)."
  type        = string
  default     = "envpromote-app"
}

variable "ledger_bucket" {
  description = "Ledger bucket name; null derives <project>-ledger-<account id>."
  type        = string
  default     = null
}

variable "ledger_prefix" {
  description = "Key prefix of the release records."
  type        = string
  default     = "releases"
}

# This root's bucket is every environment's ledger, production's included: Object Lock is not optional here
# (modules/ledger accepts NONE for throwaway accounts; this root does not).
variable "object_lock_mode" {
  description = "Object Lock mode of the ledger: GOVERNANCE or COMPLIANCE (chosen at bucket creation only; production's records live here)."
  type        = string
  default     = "GOVERNANCE"

  validation {
    condition     = contains(["GOVERNANCE", "COMPLIANCE"], var.object_lock_mode)
    error_message = "object_lock_mode must be GOVERNANCE or COMPLIANCE: the shared ledger holds production's records."
  }
}

variable "retention_days" {
  description = "Default Object Lock retention of ledger records, in days (at least 365: a year of audit trail)."
  type        = number
  default     = 400

  validation {
    condition     = var.retention_days >= 365 && var.retention_days <= 36500 && floor(var.retention_days) == var.retention_days
    error_message = "retention_days must be a whole number between 365 and 36500."
  }
}

variable "environments" {
  description = "Environments whose deploy roles (<project>-<env>-deploy) write the ledger; each may write only its own records."
  type        = list(string)
  default     = ["dev", "staging", "production"]

  validation {
    condition     = length(var.environments) > 0 && alltrue([for env in var.environments : can(regex("^[a-z][a-z0-9-]{0,31}$", env))])
    error_message = "environments must be a non-empty list of environment names (a-z, 0-9, '-')."
  }
}

variable "tagger_alarm_actions" {
  description = "ARNs (for example an SNS topic) notified when the promotion tagger fails or gives up on a ledger event."
  type        = list(string)
  default     = []
}

variable "lock_table" {
  description = "Lock table name (envpromote.toml [lock] table)."
  type        = string
  default     = "envpromote-locks"
}

variable "environment_regions" {
  description = "Region of an environment's ECS service when it is not var.region (environment name => region); the board role may describe those services only."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for region in values(var.environment_regions) : can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", region))])
    error_message = "environment_regions values must be AWS region names such as us-east-1."
  }
}

variable "board_assume_role_arns" {
  description = "Read-only per-environment roles (envpromote.toml role_arn) the board role may assume; empty when the config names none. Never a deploy or build role."
  type        = list(string)
  default     = []
}
