variable "bucket_name" {
  description = "Name of the release-ledger bucket (globally unique; include the account id)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name (3-63 lowercase letters, digits, '.' or '-')."
  }
}

variable "prefix" {
  description = "Key prefix under which EnvPromote writes release records (envpromote.toml [ledger] prefix)."
  type        = string
  default     = "releases"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9/_.-]*[A-Za-z0-9]$", var.prefix)) && !endswith(var.prefix, "/")
    error_message = "prefix must be a non-empty key prefix without leading or trailing '/'."
  }
}

variable "object_lock_mode" {
  description = "S3 Object Lock default retention: NONE, GOVERNANCE or COMPLIANCE. Object Lock can only be chosen when the bucket is created."
  type        = string
  default     = "GOVERNANCE"

  validation {
    condition     = contains(["NONE", "GOVERNANCE", "COMPLIANCE"], var.object_lock_mode)
    error_message = "object_lock_mode must be NONE, GOVERNANCE or COMPLIANCE."
  }
}

variable "retention_days" {
  description = "Default Object Lock retention of each record version, in days (ignored when object_lock_mode is NONE)."
  type        = number
  default     = 400

  validation {
    condition     = var.retention_days >= 1 && var.retention_days <= 36500 && floor(var.retention_days) == var.retention_days
    error_message = "retention_days must be a whole number between 1 and 36500."
  }
}

variable "environment_writers" {
  description = "Environment name -> ARN of its deploy role. The bucket policy denies each role any write outside <prefix>/envs/<environment>/ (on top of the role's own policy)."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for env, arn in var.environment_writers :
      can(regex("^[a-z][a-z0-9-]{0,31}$", env)) && can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[^*]+$", arn))
    ])
    error_message = "environment_writers maps environment names (a-z, 0-9, '-') to role ARNs without wildcards."
  }
}

variable "lock_table_name" {
  description = "Name of the DynamoDB table that holds the per-environment promotion locks (envpromote.toml [lock] table)."
  type        = string
  default     = "envpromote-locks"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.lock_table_name))
    error_message = "lock_table_name must be 3-255 characters of letters, digits, '_', '-' or '.'."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the bucket and the lock table. Null creates a dedicated key with rotation."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN or null."
  }
}

variable "access_log_bucket" {
  description = "Existing bucket that receives S3 server access logs for the ledger; null disables access logging."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource of this module."
  type        = map(string)
  default     = {}
}
