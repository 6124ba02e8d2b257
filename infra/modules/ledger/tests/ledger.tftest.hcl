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
  bucket_name = "envpromote-ledger-123456789012"
}

run "versioned_locked_encrypted_private" {
  command = plan

  assert {
    condition     = aws_s3_bucket.ledger.object_lock_enabled
    error_message = "Object Lock is on by default (GOVERNANCE)."
  }
  assert {
    condition     = aws_s3_bucket_versioning.ledger.versioning_configuration[0].status == "Enabled"
    error_message = "Versioning must be enabled."
  }
  assert {
    condition     = aws_s3_bucket_object_lock_configuration.ledger[0].rule[0].default_retention[0].mode == "GOVERNANCE"
    error_message = "Default retention mode follows object_lock_mode."
  }
  assert {
    condition     = aws_s3_bucket_public_access_block.ledger.restrict_public_buckets && aws_s3_bucket_public_access_block.ledger.block_public_policy
    error_message = "Public access must be blocked."
  }
  assert {
    condition     = aws_dynamodb_table.locks.hash_key == "lock_id" && aws_dynamodb_table.locks.ttl[0].attribute_name == "expires_at"
    error_message = "The lock table is keyed by lock_id and expires leases through expires_at."
  }
}

run "object_lock_can_be_off" {
  command = plan

  variables {
    object_lock_mode = "NONE"
  }

  assert {
    condition     = length(aws_s3_bucket_object_lock_configuration.ledger) == 0 && output.retention_days == 0
    error_message = "No Object Lock configuration when object_lock_mode is NONE."
  }
}

run "rejects_unknown_lock_mode" {
  command = plan

  variables {
    object_lock_mode = "forever"
  }

  expect_failures = [var.object_lock_mode]
}

run "environment_writers_are_exact_roles" {
  command = plan

  variables {
    environment_writers = {
      production = "arn:aws:iam::123456789012:role/*"
    }
  }

  expect_failures = [var.environment_writers]
}
