variable "name" {
  description = "Name of the function, its role, log group and dead-letter queue."
  type        = string
  default     = "envpromote-promotion-tagger"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,52}$", var.name))
    error_message = "name must be 1-52 letters, digits, '_' or '-' (the queue adds -dead-letters)."
  }
}

variable "ledger_bucket_name" {
  description = "The release-ledger bucket (modules/ledger). This module owns its S3 event notification configuration."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.ledger_bucket_name))
    error_message = "ledger_bucket_name must be a valid S3 bucket name."
  }
}

variable "ledger_bucket_arn" {
  description = "ARN of the release-ledger bucket."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.ledger_bucket_arn))
    error_message = "ledger_bucket_arn must be an S3 bucket ARN."
  }
}

variable "ledger_prefix" {
  description = "Key prefix of the release records (envpromote.toml [ledger] prefix); records live under <prefix>/envs/<env>/."
  type        = string
  default     = "releases"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9/_.-]*[A-Za-z0-9]$", var.ledger_prefix)) && !strcontains(var.ledger_prefix, "*")
    error_message = "ledger_prefix must be a key prefix without wildcards or leading/trailing slash."
  }
}

variable "environments" {
  description = "Environments whose release records the function hears (one S3 notification entry each)."
  type        = list(string)
  default     = ["dev", "staging", "production"]

  validation {
    condition     = length(var.environments) > 0 && alltrue([for env in var.environments : can(regex("^[a-z][a-z0-9-]{0,31}$", env))])
    error_message = "environments must be a non-empty list of environment names (a-z, 0-9, '-')."
  }
}

variable "record_dir" {
  description = "Directory of the record objects under <prefix>/envs/<env>/ (envpromote/ledger/layout.py: r)."
  type        = string
  default     = "r"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]+$", var.record_dir))
    error_message = "record_dir must be one path segment."
  }
}

variable "ledger_kms_key_arn" {
  description = "KMS key of the ledger bucket (the function decrypts records through S3 only)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[^*]+$", var.ledger_kms_key_arn))
    error_message = "ledger_kms_key_arn must be a KMS key ARN."
  }
}

variable "repository_name" {
  description = "The ECR repository whose released images the function tags (records naming another repository are skipped)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.repository_name))
    error_message = "repository_name must be a valid ECR repository name."
  }
}

variable "repository_arn" {
  description = "ARN of that repository: the only one the function may read or tag."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/[^*]+$", var.repository_arn))
    error_message = "repository_arn must be an ECR repository ARN without wildcards."
  }
}

variable "promoted_tag_prefix" {
  description = "Prefix of the tag added to released digests (modules/ecr's promoted_tag_prefix): <prefix><env>-<digest12>."
  type        = string
  default     = "promoted-"

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9._-]{0,100}$", var.promoted_tag_prefix))
    error_message = "promoted_tag_prefix must be a valid image tag prefix."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions (a cap: releases are rare; a burst of events waits rather than floods)."
  type        = number
  default     = 2

  validation {
    condition     = var.reserved_concurrency >= 1 && var.reserved_concurrency <= 20 && floor(var.reserved_concurrency) == var.reserved_concurrency
    error_message = "reserved_concurrency must be a whole number between 1 and 20."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group, in days (a CloudWatch Logs retention value)."
  type        = number
  default     = 400

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (for example 365 or 400)."
  }
}

variable "log_kms_key_arn" {
  description = "Optional customer-managed KMS key for the log group (its key policy must allow CloudWatch Logs)."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[^*]+$", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be a KMS key ARN or null."
  }
}

variable "alarm_actions" {
  description = "ARNs notified when the tagger fails or gives up on an event (for example an SNS topic)."
  type        = list(string)
  default     = []
}

variable "permissions_boundary_arn" {
  description = "Optional permissions boundary of the function's role."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be an IAM policy ARN."
  }
}

variable "tags" {
  description = "Tags added to every resource of this module."
  type        = map(string)
  default     = {}
}
