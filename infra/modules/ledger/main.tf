locals {
  create_kms_key = var.kms_key_arn == null
  kms_key_arn    = local.create_kms_key ? aws_kms_key.ledger[0].arn : var.kms_key_arn
  object_lock    = var.object_lock_mode != "NONE"
  # The per-environment head (envpromote/ledger.py): the only key that is ever overwritten.
  head_objects = "${aws_s3_bucket.ledger.arn}/${var.prefix}/envs/*/head.json"
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

data "aws_iam_policy_document" "ledger_key" {
  #checkov:skip=CKV_AWS_111:A key policy's "*" resource is the key itself; delegating to the account root is AWS's default key policy.
  #checkov:skip=CKV_AWS_356:A key policy's "*" resource is the key itself, not every resource.
  #checkov:skip=CKV_AWS_109:Only the account root administers the key; IAM policies in the account decide who else may.
  statement {
    sid       = "AccountAdministersTheKey"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

resource "aws_kms_key" "ledger" {
  count = local.create_kms_key ? 1 : 0

  description             = "EnvPromote release ledger and lock table (${var.bucket_name})"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.ledger_key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "ledger" {
  count = local.create_kms_key ? 1 : 0

  # Environment roots find the key by this alias, so they never read the shared root's state.
  name          = "alias/${var.bucket_name}"
  target_key_id = aws_kms_key.ledger[0].key_id
}

#trivy:ignore:AVD-AWS-0089 Access logging is optional (access_log_bucket): the log bucket is organisation-specific.
resource "aws_s3_bucket" "ledger" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is a per-organisation disaster-recovery choice; versioning plus Object Lock already keep every record.
  #checkov:skip=CKV2_AWS_62:The notification configuration lives in modules/promotion-tagger (one per bucket), applied by the same root.
  #checkov:skip=CKV2_AWS_61:Records are an audit trail kept by Object Lock retention; an expiring lifecycle rule would defeat the ledger.
  bucket              = var.bucket_name
  object_lock_enabled = local.object_lock
  tags                = var.tags
}

resource "aws_s3_bucket_versioning" "ledger" {
  bucket = aws_s3_bucket.ledger.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "ledger" {
  bucket = aws_s3_bucket.ledger.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = local.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "ledger" {
  bucket = aws_s3_bucket.ledger.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "ledger" {
  bucket = aws_s3_bucket.ledger.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_object_lock_configuration" "ledger" {
  count = local.object_lock ? 1 : 0

  bucket = aws_s3_bucket.ledger.id

  rule {
    default_retention {
      mode = var.object_lock_mode
      days = var.retention_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.ledger]
}

resource "aws_s3_bucket_logging" "ledger" {
  count = var.access_log_bucket == null ? 0 : 1

  bucket        = aws_s3_bucket.ledger.id
  target_bucket = var.access_log_bucket
  target_prefix = "s3-access/${var.bucket_name}/"
}

# Write rules every principal obeys (roles, administrators, Terraform): the ledger is append-only by
# construction, not by the good behaviour of its writers. Record keys are written once (If-None-Match: *,
# condition key s3:if-none-match); the one object that moves, <prefix>/envs/<env>/head.json, moves only
# with If-Match (s3:if-match) or is created with If-None-Match; nothing is deleted (no delete markers that
# would hide a record either). Break glass = change this policy, a CloudTrail-logged act of its own.
data "aws_iam_policy_document" "ledger" {
  statement {
    sid           = "DenyUnconditionalRecordWrites"
    effect        = "Deny"
    actions       = ["s3:PutObject"]
    not_resources = [local.head_objects]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Null"
      variable = "s3:if-none-match"
      values   = ["true"]
    }
  }

  statement {
    sid       = "HeadMovesOnlyConditionally"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = [local.head_objects]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Null"
      variable = "s3:if-match"
      values   = ["true"]
    }

    condition {
      test     = "Null"
      variable = "s3:if-none-match"
      values   = ["true"]
    }
  }

  statement {
    sid       = "NobodyDeletesOrUnlocksRecords"
    effect    = "Deny"
    actions   = ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"]
    resources = ["${aws_s3_bucket.ledger.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }
  }

  # Defence in depth behind the deploy roles' own IAM policies: each environment's role writes only under
  # <prefix>/envs/<its environment>/ (so it cannot append to the next environment's chain and open its gate).
  dynamic "statement" {
    for_each = var.environment_writers

    content {
      sid           = "OnlyOwnEnvironmentRecords${replace(title(replace(statement.key, "-", " ")), " ", "")}"
      effect        = "Deny"
      actions       = ["s3:PutObject"]
      not_resources = ["${aws_s3_bucket.ledger.arn}/${var.prefix}/envs/${statement.key}/*"]

      principals {
        type        = "*"
        identifiers = ["*"]
      }

      condition {
        test     = "ArnEquals"
        variable = "aws:PrincipalArn"
        values   = [statement.value]
      }
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.ledger.arn, "${aws_s3_bucket.ledger.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "ledger" {
  bucket = aws_s3_bucket.ledger.id
  policy = data.aws_iam_policy_document.ledger.json

  depends_on = [aws_s3_bucket_public_access_block.ledger]
}

# One item per environment (lock_id = environment name); expires_at lets DynamoDB's TTL sweep
# leases left by crashed runs (EnvPromote itself treats an expired lease as free before TTL runs).
resource "aws_dynamodb_table" "locks" {
  name                        = var.lock_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "lock_id"
  deletion_protection_enabled = true

  attribute {
    name = "lock_id"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = local.kms_key_arn
  }

  tags = var.tags
}
