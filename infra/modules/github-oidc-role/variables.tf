variable "name" {
  description = "IAM role name, for example envpromote-production-deploy."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.name))
    error_message = "name must be a valid IAM role name (1-64 characters)."
  }
}

variable "kind" {
  description = "deploy: trusted by one GitHub environment, reads ECR, deploys one service. build: trusted by pushes to one branch, the only role that pushes images."
  type        = string

  validation {
    condition     = contains(["deploy", "build"], var.kind)
    error_message = "kind must be deploy or build."
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
  description = "GitHub repository allowed to assume the role, as owner/name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository)) && !strcontains(var.github_repository, "*")
    error_message = "github_repository must be owner/name, without wildcards."
  }
}

variable "environment" {
  description = "GitHub environment whose jobs may assume a deploy role (the token's sub is repo:<owner>/<repo>:environment:<environment>). Required for kind = deploy."
  type        = string
  default     = null

  validation {
    condition     = var.environment == null || can(regex("^[A-Za-z0-9_.-]{1,255}$", var.environment))
    error_message = "environment must be a GitHub environment name without wildcards."
  }

  # The GitHub environment `board` is the release board's: only the read-only modules/board-role trusts it.
  validation {
    condition     = var.environment != "board"
    error_message = "environment board belongs to the read-only release board role (modules/board-role), not to a deploy role."
  }
}

variable "branch" {
  description = "Branch whose pushes may assume a build role (sub repo:<owner>/<repo>:ref:refs/heads/<branch>)."
  type        = string
  default     = "main"

  validation {
    condition     = can(regex("^[A-Za-z0-9_./-]{1,255}$", var.branch)) && !strcontains(var.branch, "*")
    error_message = "branch must be a branch name without wildcards."
  }
}

variable "ecr_repository_arn" {
  description = "The ECR repository: read-only for deploy roles, push for the build role."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/.+$", var.ecr_repository_arn))
    error_message = "ecr_repository_arn must be an ECR repository ARN."
  }
}

variable "region" {
  description = "Region of the environment's ECS resources (deploy roles may register task definitions there only) and of the ledger key's S3 use."
  type        = string
  default     = null

  validation {
    condition     = var.region == null || can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "cluster_arn" {
  description = "ECS cluster of the environment (deploy roles)."
  type        = string
  default     = null

  validation {
    condition     = var.cluster_arn == null || can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/[^*]+$", var.cluster_arn))
    error_message = "cluster_arn must be an ECS cluster ARN without wildcards."
  }
}

variable "service_arn" {
  description = "ECS service of the environment (deploy roles): the only service it may update."
  type        = string
  default     = null

  validation {
    condition     = var.service_arn == null || can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:service/[^/*]+/[^/*]+$", var.service_arn))
    error_message = "service_arn must be an ECS service ARN (service/<cluster>/<service>) without wildcards."
  }
}

variable "pass_role_arns" {
  description = "The environment's task execution and task roles: the only roles a deploy role may pass, and only to ecs-tasks.amazonaws.com."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.pass_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[^*]+$", arn))])
    error_message = "pass_role_arns must be role ARNs without wildcards."
  }
}

variable "ledger_bucket_arn" {
  description = "Release-ledger bucket: deploy roles read <ledger_prefix>/ and append to <ledger_prefix>/envs/<environment>/; the build role adds <ledger_prefix>/builds/ records."
  type        = string
  default     = null

  validation {
    condition     = var.ledger_bucket_arn == null || can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.ledger_bucket_arn))
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
  description = "KMS key of the ledger bucket and lock table (used through S3 and DynamoDB only)."
  type        = string
  default     = null

  validation {
    condition     = var.ledger_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[^*]+$", var.ledger_kms_key_arn))
    error_message = "ledger_kms_key_arn must be a KMS key ARN."
  }
}

variable "lock_table_arn" {
  description = "DynamoDB lock table (deploy roles may touch only the items whose lock_id is in lock_ids)."
  type        = string
  default     = null

  validation {
    condition     = var.lock_table_arn == null || can(regex("^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[^*]+$", var.lock_table_arn))
    error_message = "lock_table_arn must be a DynamoDB table ARN."
  }
}

variable "lock_ids" {
  description = "Partition keys (lock_id) the deploy role may use in the lock table. Defaults to [environment]."
  type        = list(string)
  default     = null

  validation {
    condition     = var.lock_ids == null || alltrue([for id in coalesce(var.lock_ids, []) : !strcontains(id, "*") && length(id) > 0])
    error_message = "lock_ids must be exact partition keys without wildcards."
  }
}

variable "events_queue_arn" {
  description = "The environment's ECS events queue: the deploy role may receive and delete from it, nothing else."
  type        = string
  default     = null

  validation {
    condition     = var.events_queue_arn == null || can(regex("^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[^*]+$", var.events_queue_arn))
    error_message = "events_queue_arn must be an SQS queue ARN."
  }
}

variable "alarm_arns" {
  description = "CloudWatch alarms whose state the deploy role may read."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.alarm_arns : can(regex("^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:[0-9]{12}:alarm:[^*]+$", arn))])
    error_message = "alarm_arns must be CloudWatch alarm ARNs without wildcards."
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
