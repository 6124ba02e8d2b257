data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  deploy    = var.kind == "deploy"
  build     = var.kind == "build"
  partition = data.aws_partition.current.partition
  # Exact subjects only (StringEquals): a deploy role answers to one GitHub environment, whose
  # protection rules (reviewers, branch policy) gate production; the build role to one branch.
  subject = local.deploy ? "repo:${var.github_repository}:environment:${coalesce(var.environment, "-")}" : "repo:${var.github_repository}:ref:refs/heads/${var.branch}"

  service_deployment_arn = local.deploy ? "${replace(var.service_arn, ":service/", ":service-deployment/")}/*" : null
  task_arn_pattern       = local.deploy ? "${replace(var.cluster_arn, ":cluster/", ":task/")}/*" : null
  # Ledger layout (envpromote/ledger.py): <prefix>/envs/<env>/<seq>.json, <prefix>/builds/<digest>/<t>.json.
  # Deploy roles read everything (gates read upstream records), append only to their own environment;
  # the build role only adds build records.
  ledger_objects       = local.deploy ? "${var.ledger_bucket_arn}/${var.ledger_prefix}/*" : null
  ledger_own_records   = local.deploy ? "${var.ledger_bucket_arn}/${var.ledger_prefix}/envs/${coalesce(var.environment, "-")}/*" : null
  ledger_build_records = var.ledger_bucket_arn == null ? null : "${var.ledger_bucket_arn}/${var.ledger_prefix}/builds/*"
  lock_ids             = coalesce(var.lock_ids, [coalesce(var.environment, "-")])
  region               = coalesce(var.region, "-")
}

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "GitHubActionsOidc"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = [local.subject]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = var.name
  description          = local.deploy ? "EnvPromote deploy role for GitHub environment ${var.environment}" : "EnvPromote build role (pushes images) for ${var.branch}"
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = var.max_session_duration
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags

  lifecycle {
    precondition {
      condition = !local.deploy || (
        var.environment != null && var.cluster_arn != null && var.service_arn != null && var.region != null &&
        length(var.pass_role_arns) > 0 && var.ledger_bucket_arn != null && var.lock_table_arn != null
      )
      error_message = "A deploy role needs environment, region, cluster_arn, service_arn, pass_role_arns, ledger_bucket_arn and lock_table_arn."
    }
  }
}

# Deploy role ---------------------------------------------------------------------------------------

data "aws_iam_policy_document" "deploy" {
  count = local.deploy ? 1 : 0

  statement {
    sid = "TaskDefinitionsNotResourceScopable"
    # RegisterTaskDefinition and DescribeTaskDefinition accept no resource ARN; the region is pinned.
    actions   = ["ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [local.region]
    }
  }

  statement {
    sid       = "TagTaskDefinitionsOnRegister"
    actions   = ["ecs:TagResource"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${data.aws_caller_identity.current.account_id}:task-definition/*"]

    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RegisterTaskDefinition"]
    }
  }

  statement {
    sid       = "OwnServiceOnly"
    actions   = ["ecs:UpdateService", "ecs:DescribeServices", "ecs:ListServiceDeployments"]
    resources = [var.service_arn]
  }

  # Its own service's deployments only (service-deployment/<cluster>/<service>/*): follow one through its
  # lifecycle stages, continue or roll back one paused at a PAUSE hook, stop one (ROLLBACK).
  statement {
    sid       = "OwnServiceDeployments"
    actions   = ["ecs:DescribeServiceDeployments", "ecs:ContinueServiceDeployment", "ecs:StopServiceDeployment"]
    resources = [local.service_deployment_arn]
  }

  statement {
    sid       = "OwnClusterTasks"
    actions   = ["ecs:DescribeTasks"]
    resources = [local.task_arn_pattern]
  }

  statement {
    sid       = "ListOwnClusterTasks"
    actions   = ["ecs:ListTasks"]
    resources = ["*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.cluster_arn]
    }
  }

  statement {
    sid       = "OwnCluster"
    actions   = ["ecs:DescribeClusters"]
    resources = [var.cluster_arn]
  }

  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  # Read only: no PutImage, no layer upload. A deploy role can neither create nor re-point an image; the
  # promoted-<env>-<digest12> tag that protects released digests from expiry is written by
  # modules/promotion-tagger from the ledger's success records.
  statement {
    sid = "EcrReadOnly"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:DescribeImageScanFindings",
      "ecr:DescribeImages",
      "ecr:DescribeRepositories",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [var.ecr_repository_arn]
  }

  statement {
    sid       = "PassOnlyThisEnvironmentsTaskRoles"
    actions   = ["iam:PassRole"]
    resources = var.pass_role_arns

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  # Preflight checks that both roles exist before registering a task definition that names them.
  statement {
    sid       = "ReadThisEnvironmentsTaskRoles"
    actions   = ["iam:GetRole"]
    resources = var.pass_role_arns
  }

  statement {
    sid       = "ReadLedger"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = [local.ledger_objects]
  }

  statement {
    sid       = "AppendOwnEnvironmentRecords"
    actions   = ["s3:PutObject"]
    resources = [local.ledger_own_records]
  }

  statement {
    sid       = "ListLedgerPrefix"
    actions   = ["s3:ListBucket", "s3:ListBucketVersions"]
    resources = [var.ledger_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.ledger_prefix, "${var.ledger_prefix}/*"]
    }
  }

  statement {
    sid       = "OwnLockItemOnly"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = [var.lock_table_arn]

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:LeadingKeys"
      values   = local.lock_ids
    }
  }

  dynamic "statement" {
    for_each = var.ledger_kms_key_arn == null ? [] : [var.ledger_kms_key_arn]

    content {
      sid       = "LedgerKeyThroughS3AndDynamoDbOnly"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.region}.amazonaws.com", "dynamodb.${local.region}.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.events_queue_arn == null ? [] : [var.events_queue_arn]

    content {
      sid       = "OwnEventsQueueOnly"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = length(var.alarm_arns) == 0 ? [] : [var.alarm_arns]

    content {
      sid       = "ReadOwnAlarms"
      actions   = ["cloudwatch:DescribeAlarms"]
      resources = statement.value
    }
  }
}

# Build role ----------------------------------------------------------------------------------------

data "aws_iam_policy_document" "build" {
  count = local.build ? 1 : 0

  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PushToTheRepository"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImageScanFindings",
      "ecr:DescribeImages",
      "ecr:DescribeRepositories",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [var.ecr_repository_arn]
  }

  # `invoke ledger.record-build` stores the build record (digest, commit, scan summary) the scan gate reads.
  dynamic "statement" {
    for_each = local.ledger_build_records == null ? [] : [local.ledger_build_records]

    content {
      sid       = "AddBuildRecords"
      actions   = ["s3:PutObject"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.ledger_kms_key_arn == null ? [] : [var.ledger_kms_key_arn]

    content {
      sid       = "LedgerKeyThroughS3Only"
      actions   = ["kms:GenerateDataKey"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "envpromote-${var.kind}"
  role   = aws_iam_role.this.id
  policy = local.deploy ? data.aws_iam_policy_document.deploy[0].json : data.aws_iam_policy_document.build[0].json
}
