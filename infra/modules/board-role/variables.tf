variable "name" {
  description = "IAM role name, for example envpromote-board."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.name))
    error_message = "name must be a valid IAM role name (1-64 characters)."
  }
}

variable "oidc_provider_arn" {
  description = "ARN of the account's GitHub OIDC provider (infra/bootstrap/oidc)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token\\.actions\\.githubusercontent\\.com$", var.oidc_provider_arn))
    error_message = "oidc_provider_arn must be the ARN of the token.actions.githubusercontent.com OIDC provider."
  }
}

variable "github_repository" {
  description = "GitHub repository whose `board` environment may assume the role, as owner/name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository)) && !strcontains(var.github_repository, "*")
    error_message = "github_repository must be owner/name, without wildcards."
  }
}

variable "region" {
  description = "Region of the ledger bucket and lock table (the ledger key is used through S3 and DynamoDB there only)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "ledger_bucket_arn" {
  description = "Release-ledger bucket: the board lists and reads <ledger_prefix>/ only."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.ledger_bucket_arn))
    error_message = "ledger_bucket_arn must be an S3 bucket ARN."
  }
}

variable "ledger_prefix" {
  description = "Key prefix of the release records."
  type        = string
  default     = "releases"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9/_.-]*[A-Za-z0-9]$", var.ledger_prefix)) && !strcontains(var.ledger_prefix, "*")
    error_message = "ledger_prefix must be a key prefix without wildcards or leading/trailing slash."
  }
}

variable "ledger_kms_key_arn" {
  description = "KMS key of the ledger bucket and lock table (kms:Decrypt through S3 and DynamoDB only)."
  type        = string
  default     = null

  validation {
    condition     = var.ledger_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[^*]+$", var.ledger_kms_key_arn))
    error_message = "ledger_kms_key_arn must be a KMS key ARN."
  }
}

variable "lock_table_arn" {
  description = "DynamoDB lock table: the board may GetItem the items whose lock_id is in lock_ids, nothing else."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[^*]+$", var.lock_table_arn))
    error_message = "lock_table_arn must be a DynamoDB table ARN."
  }
}

variable "lock_ids" {
  description = "Partition keys (lock_id = environment name) of the lock items the board reads: the chain's environments."
  type        = list(string)

  validation {
    condition     = length(var.lock_ids) > 0 && alltrue([for id in var.lock_ids : !strcontains(id, "*") && length(id) > 0])
    error_message = "lock_ids must be a non-empty list of exact partition keys without wildcards."
  }
}

variable "service_arns" {
  description = "The chain's ECS services (one per environment): the only services the board may describe. Their regions are the only ones where it may describe task definitions."
  type        = list(string)

  validation {
    condition     = length(var.service_arns) > 0 && alltrue([for arn in var.service_arns : can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:service/[^/*]+/[^/*]+$", arn))])
    error_message = "service_arns must be a non-empty list of ECS service ARNs (service/<cluster>/<service>) without wildcards."
  }
}

variable "assume_role_arns" {
  description = "Per-environment read roles (envpromote.toml role_arn) the board reads ECS through; empty when the config names none. Each must be read-only and trust this role; deploy and build roles are refused."
  type        = list(string)
  default     = []

  validation {
    condition = alltrue([
      for arn in var.assume_role_arns :
      can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[^*]+$", arn)) && !can(regex("-(deploy|build)$", arn))
    ])
    error_message = "assume_role_arns must be role ARNs without wildcards, and none a deploy or build role (<name>-deploy, <name>-build)."
  }
}

variable "max_session_duration" {
  description = "Maximum session length in seconds."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200
    error_message = "max_session_duration must be between 3600 and 43200 seconds."
  }
}

variable "permissions_boundary_arn" {
  description = "Optional permissions boundary of the role."
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
