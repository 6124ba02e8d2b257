terraform {
  # 1.10: S3 native lockfile locking (use_lockfile in backend.hcl).
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0, < 7.0"
    }
  }

  # Partial configuration: backend.hcl holds the key; the bucket comes from `invoke infra.init`.
  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      "envpromote:stack" = "dev"
      "managed-by"       = "terraform"
    }
  }
}
