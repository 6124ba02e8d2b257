locals {
  create_kms_key = var.kms_key_arn == null
  kms_key_arn    = local.create_kms_key ? aws_kms_key.ecr[0].arn : var.kms_key_arn

  # Rule 1 matches every promoted image, so (by ECR's evaluation rules) no later rule can expire it,
  # even when it also carries a build tag. See README.md.
  protect_promoted = [{
    rulePriority = 1
    description  = "Keep promoted images: matching them here makes them immune to the rules below."
    selection = {
      tagStatus     = "tagged"
      tagPrefixList = [var.promoted_tag_prefix]
      countType     = "imageCountMoreThan"
      countNumber   = var.promoted_images_kept
    }
    action = { type = "expire" }
  }]

  expire_untagged = [{
    rulePriority = 2
    description  = "Expire untagged images after ${var.untagged_expire_days} days."
    selection = {
      tagStatus   = "untagged"
      countType   = "sinceImagePushed"
      countUnit   = "days"
      countNumber = var.untagged_expire_days
    }
    action = { type = "expire" }
  }]

  expire_old_builds = [for index, prefix in var.build_tag_prefixes : {
    rulePriority = 10 + index
    description  = "Keep the newest ${var.build_images_kept} never-promoted '${prefix}*' build images."
    selection = {
      tagStatus     = "tagged"
      tagPrefixList = [prefix]
      countType     = "imageCountMoreThan"
      countNumber   = var.build_images_kept
    }
    action = { type = "expire" }
  }]
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

data "aws_iam_policy_document" "ecr_key" {
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

resource "aws_kms_key" "ecr" {
  count = local.create_kms_key ? 1 : 0

  description             = "ECR image encryption for ${var.name}"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.ecr_key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "ecr" {
  count = local.create_kms_key ? 1 : 0

  name          = "alias/ecr-${replace(var.name, "/", "-")}"
  target_key_id = aws_kms_key.ecr[0].key_id
}

resource "aws_ecr_repository" "this" {
  name                 = var.name
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = local.kms_key_arn
  }

  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    rules = concat(local.protect_promoted, local.expire_untagged, local.expire_old_builds)
  })
}
