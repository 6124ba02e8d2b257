terraform {
  # The state bucket cannot hold its own state before it exists: this root keeps local state
  # (commit-free: see README.md for moving it into the bucket afterwards).
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = { "envpromote:stack" = "bootstrap-state" }
  }
}
