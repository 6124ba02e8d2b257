# The release board's role: read-only, trusted by one GitHub environment (`board`), reads exactly what
# `invoke board` reads (envpromote/board/generate.py, observe.py) and nothing that writes.

locals {
  # Exact subject (StringEquals): only a job that runs in the GitHub environment `board` (deployment branches:
  # main) gets it. .github/workflows/board.yml's render job declares that environment.
  subject = "repo:${var.github_repository}:environment:board"

  # Ledger layout (envpromote/ledger.py): <prefix>/envs/<env>/<seq>.json, <prefix>/builds/<digest>/<t>.json.
  # The board reads both (histories and the build records of the digests it shows).
  ledger_objects = "${var.ledger_bucket_arn}/${var.ledger_prefix}/*"
  # DescribeTaskDefinition takes no resource ARN: pin it to the regions of the chain's services.
  ecs_regions = distinct([for arn in var.service_arns : split(":", arn)[3]])
}

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "GitHubActionsOidcBoardEnvironment"
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
  description          = "EnvPromote release board (read-only) for GitHub environment board"
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = var.max_session_duration
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags
}

data "aws_iam_policy_document" "board" {
  # Ledger.history / latest_build: ListObjectsV2 under the prefix, then one GET per record.
  statement {
    sid       = "ListLedgerPrefix"
    actions   = ["s3:ListBucket"]
    resources = [var.ledger_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.ledger_prefix, "${var.ledger_prefix}/*"]
    }
  }

  statement {
    sid       = "ReadLedgerRecords"
    actions   = ["s3:GetObject"]
    resources = [local.ledger_objects]
  }

  # The bucket and the lock table are encrypted with the ledger key: reading either decrypts through the
  # service (a DynamoDB GetItem on a table with a customer managed key needs the caller's kms:Decrypt too).
  dynamic "statement" {
    for_each = var.ledger_kms_key_arn == null ? [] : [var.ledger_kms_key_arn]

    content {
      sid       = "LedgerKeyDecryptThroughS3AndDynamoDbOnly"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${var.region}.amazonaws.com", "dynamodb.${var.region}.amazonaws.com"]
      }
    }
  }

  # observe_service: the PRIMARY deployment of each environment's service.
  statement {
    sid       = "ChainServicesOnly"
    actions   = ["ecs:DescribeServices"]
    resources = var.service_arns
  }

  # The running revision and the newest releases' revisions (their diffs). Not resource-scopable.
  statement {
    sid       = "TaskDefinitionsNotResourceScopable"
    actions   = ["ecs:DescribeTaskDefinition"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = local.ecs_regions
    }
  }

  # observe_lock: one consistent GetItem per environment; only the chain's lock items.
  statement {
    sid       = "ReadChainLockItems"
    actions   = ["dynamodb:GetItem"]
    resources = [var.lock_table_arn]

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:LeadingKeys"
      values   = var.lock_ids
    }
  }

  # Environments whose envpromote.toml names a role_arn: the board reads their ECS through that role, which
  # must itself be read-only and trust this role (never a deploy or build role: the variable refuses those).
  dynamic "statement" {
    for_each = length(var.assume_role_arns) == 0 ? [] : [var.assume_role_arns]

    content {
      sid       = "AssumeEnvironmentReadRoles"
      actions   = ["sts:AssumeRole"]
      resources = statement.value
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "envpromote-board"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.board.json
}
