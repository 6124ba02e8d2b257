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

variable "object_lock_mode" {
  description = "Object Lock mode of the ledger: NONE, GOVERNANCE or COMPLIANCE (chosen at creation only)."
  type        = string
  default     = "GOVERNANCE"
}

variable "retention_days" {
  description = "Default Object Lock retention of ledger records, in days."
  type        = number
  default     = 400
}

variable "lock_table" {
  description = "Lock table name (envpromote.toml [lock] table)."
  type        = string
  default     = "envpromote-locks"
}
