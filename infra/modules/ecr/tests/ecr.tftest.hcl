mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  name = "envpromote-app"
}

run "immutable_scanned_and_kms_encrypted" {
  command = plan

  assert {
    condition     = aws_ecr_repository.this.image_tag_mutability == "IMMUTABLE"
    error_message = "Tags must be immutable."
  }
  assert {
    condition     = aws_ecr_repository.this.image_scanning_configuration[0].scan_on_push
    error_message = "Scan on push must be on."
  }
  assert {
    condition     = aws_ecr_repository.this.encryption_configuration[0].encryption_type == "KMS"
    error_message = "Images must be KMS-encrypted."
  }
  assert {
    condition     = length(aws_kms_key.ecr) == 1
    error_message = "A dedicated key is created when none is given."
  }
}

run "promoted_images_are_protected_by_the_first_rule" {
  command = plan

  assert {
    condition     = jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[0].selection.tagPrefixList == ["promoted-"]
    error_message = "Rule 1 must match promoted images so that no later rule can expire them."
  }
  assert {
    condition     = jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[0].rulePriority == 1
    error_message = "The protecting rule must have the highest priority."
  }
}

run "rejects_invalid_name" {
  command = plan

  variables {
    name = "Not_Valid!"
  }

  expect_failures = [var.name]
}

run "builds_expire_by_the_tag_the_build_writes" {
  command = plan

  assert {
    condition     = jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[2].selection.tagPrefixList == ["git-"]
    error_message = "Builds are tagged git-<12 hex>[-dirty][-<slug>]: the build rule must select git-."
  }
  assert {
    condition     = jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[1].selection.tagStatus == "untagged"
    error_message = "Untagged images expire."
  }
}
