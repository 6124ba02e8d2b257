data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  source_arn_patterns = coalesce(var.source_arn_patterns, [
    "arn:${local.partition}:cloudwatch:${data.aws_region.current.region}:${local.account_id}:alarm:*",
  ])
  chatbot = var.slack_channel_id != null && var.slack_team_id != null
}

data "aws_iam_policy_document" "key" {
  statement {
    sid       = "AccountAdministersTheKey"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "PublishersEncryptForThisTopic"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = var.publisher_services
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = local.source_arn_patterns
    }
  }
}

resource "aws_kms_key" "topic" {
  description             = "SNS topic ${var.name}"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "topic" {
  name          = "alias/sns-${var.name}"
  target_key_id = aws_kms_key.topic.key_id
}

resource "aws_sns_topic" "this" {
  name              = var.name
  kms_master_key_id = aws_kms_key.topic.arn
  tags              = var.tags
}

data "aws_iam_policy_document" "topic" {
  statement {
    sid       = "PublishFromThisAccountsSourcesOnly"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this.arn]

    principals {
      type        = "Service"
      identifiers = var.publisher_services
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = local.source_arn_patterns
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this.arn]

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

resource "aws_sns_topic_policy" "this" {
  arn    = aws_sns_topic.this.arn
  policy = data.aws_iam_policy_document.topic.json
}

# Optional: AWS Chatbot posts the topic's notifications to Slack.
data "aws_iam_policy_document" "chatbot_trust" {
  count = local.chatbot ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["chatbot.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "chatbot" {
  count = local.chatbot ? 1 : 0

  name               = "${var.name}-chatbot"
  assume_role_policy = data.aws_iam_policy_document.chatbot_trust[0].json
  tags               = var.tags
}

resource "aws_chatbot_slack_channel_configuration" "this" {
  count = local.chatbot ? 1 : 0

  configuration_name = var.name
  iam_role_arn       = aws_iam_role.chatbot[0].arn
  slack_channel_id   = var.slack_channel_id
  slack_team_id      = var.slack_team_id
  sns_topic_arns     = [aws_sns_topic.this.arn]
  # Read-only: the channel shows notifications, it cannot act on the account.
  guardrail_policy_arns = ["arn:${local.partition}:iam::aws:policy/ReadOnlyAccess"]
  tags                  = var.tags
}
