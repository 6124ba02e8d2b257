terraform {
  # 1.7: mock_provider in the module's `terraform test` files.
  required_version = ">= 1.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0, < 7.0"
    }
    # Zips src/ for Lambda (a built-in data source of HashiCorp's archive provider; no network at apply).
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4, < 3.0"
    }
  }
}
