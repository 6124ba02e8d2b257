variable "region" {
  description = "Region of the state bucket."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "bucket_name" {
  description = "Name of the Terraform state bucket (globally unique; include the account id)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name."
  }
}

variable "noncurrent_version_days" {
  description = "Days old state versions are kept (they are the way back from a bad apply)."
  type        = number
  default     = 365

  validation {
    condition     = var.noncurrent_version_days >= 30
    error_message = "noncurrent_version_days must be at least 30."
  }
}
