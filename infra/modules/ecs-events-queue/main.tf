# ECS -> EventBridge -> SQS: the rollout watcher long-polls this queue (about 3 calls a minute) and hears
# of deployment state changes within a second. Events carry ARNs, states and stop reasons, no secrets.

locals {
  # Plain objects (not inline in jsonencode) so that tests/infra can feed the very same patterns to a
  # local EventBridge together with the sandbox's ECS-shaped events.
  deployment_events_pattern = {
    source        = ["aws.ecs"]
    "detail-type" = ["ECS Deployment State Change", "ECS Service Action"]
    resources     = [var.service_arn]
  }
  stopped_tasks_pattern = {
    source        = ["aws.ecs"]
    "detail-type" = ["ECS Task State Change"]
    detail = {
      clusterArn = [var.cluster_arn]
      group      = ["service:${var.service_name}"]
      lastStatus = ["STOPPED"]
    }
  }
}

resource "aws_cloudwatch_event_rule" "deployment" {
  name          = "${var.name}-deployments"
  description   = "ECS deployment state changes and service actions of ${var.service_name}"
  event_pattern = jsonencode(local.deployment_events_pattern)
  tags          = var.tags
}

resource "aws_cloudwatch_event_rule" "stopped_tasks" {
  name          = "${var.name}-stopped-tasks"
  description   = "STOPPED tasks of ${var.service_name} (their stoppedReason explains failed rollouts)"
  event_pattern = jsonencode(local.stopped_tasks_pattern)
  tags          = var.tags
}

locals {
  rule_arns = [aws_cloudwatch_event_rule.deployment.arn, aws_cloudwatch_event_rule.stopped_tasks.arn]
  rules = {
    deployment    = aws_cloudwatch_event_rule.deployment.name
    stopped_tasks = aws_cloudwatch_event_rule.stopped_tasks.name
  }
}

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.name}-events-dlq"
  message_retention_seconds = var.dlq_retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_sqs_queue" "events" {
  name                       = "${var.name}-events"
  message_retention_seconds  = var.message_retention_seconds
  receive_wait_time_seconds  = 20
  visibility_timeout_seconds = 30
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.events.arn]
  })
}

data "aws_iam_policy_document" "events_queue" {
  statement {
    sid       = "OnlyThisServicesRulesSend"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.events.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = local.rule_arns
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.events.arn]

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

resource "aws_sqs_queue_policy" "events" {
  queue_url = aws_sqs_queue.events.id
  policy    = data.aws_iam_policy_document.events_queue.json
}

# The dead-letter queue also receives events EventBridge could not deliver to the main queue.
data "aws_iam_policy_document" "dlq" {
  statement {
    sid       = "OnlyThisServicesRulesSend"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = local.rule_arns
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.dlq.arn]

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

resource "aws_sqs_queue_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  policy    = data.aws_iam_policy_document.dlq.json
}

resource "aws_cloudwatch_event_target" "queue" {
  for_each = local.rules

  rule      = each.value
  target_id = "envpromote-watch"
  arn       = aws_sqs_queue.events.arn

  dead_letter_config {
    arn = aws_sqs_queue.dlq.arn
  }

  retry_policy {
    maximum_event_age_in_seconds = 300
    maximum_retry_attempts       = 10
  }

  depends_on = [aws_sqs_queue_policy.events]
}
