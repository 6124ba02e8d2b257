variable "name" {
  description = "Repository name (lowercase; may contain '/', '.', '_' and '-')."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.name)) && length(var.name) <= 256
    error_message = "name must be a valid ECR repository name: lowercase letters, digits and . _ - / separators."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for image encryption. Null creates a dedicated key with rotation."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN or null."
  }
}

variable "promoted_tag_prefix" {
  description = "Prefix of the tag EnvPromote adds when it promotes a digest (promoted-<env>-<shortdigest>). Images carrying it are never expired by the build/untagged rules."
  type        = string
  default     = "promoted-"

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9._-]{0,100}$", var.promoted_tag_prefix))
    error_message = "promoted_tag_prefix must be a valid image tag prefix."
  }
}

variable "promoted_images_kept" {
  description = "How many promoted images the protecting rule keeps. Only this rule can expire a promoted image; raise it if you ever promote more digests than this."
  type        = number
  default     = 9999

  validation {
    condition     = var.promoted_images_kept >= 1000 && floor(var.promoted_images_kept) == var.promoted_images_kept
    error_message = "promoted_images_kept must be a whole number of at least 1000 (promoted images are meant to stay)."
  }
}

variable "build_tag_prefixes" {
  description = "Tag prefixes that builds push: envpromote/build.py tags git-<12 hex>[-dirty], scenario builds git-<12 hex>[-dirty]-<slug>. Old never-promoted build images beyond build_images_kept expire."
  type        = list(string)
  default     = ["git-"]

  validation {
    condition     = length(var.build_tag_prefixes) > 0 && alltrue([for prefix in var.build_tag_prefixes : can(regex("^[a-zA-Z0-9][a-zA-Z0-9._-]{0,100}$", prefix))])
    error_message = "build_tag_prefixes must be a non-empty list of valid tag prefixes."
  }
}

variable "build_images_kept" {
  description = "How many images per build tag prefix to keep (newest first); older never-promoted build images expire."
  type        = number
  default     = 50

  validation {
    condition     = var.build_images_kept >= 1 && var.build_images_kept <= 1000 && floor(var.build_images_kept) == var.build_images_kept
    error_message = "build_images_kept must be a whole number between 1 and 1000."
  }
}

variable "untagged_expire_days" {
  description = "Days after which untagged images (left behind by failed or superseded pushes) expire."
  type        = number
  default     = 7

  validation {
    condition     = var.untagged_expire_days >= 1 && var.untagged_expire_days <= 365 && floor(var.untagged_expire_days) == var.untagged_expire_days
    error_message = "untagged_expire_days must be a whole number between 1 and 365."
  }
}

variable "tags" {
  description = "Tags added to every resource of this module."
  type        = map(string)
  default     = {}
}
