# The promotion tagger: S3 tells a Lambda function about every object created under <prefix>/envs/; for a
# success record it adds promoted-<env>-<digest12> to the digest the record names, so ECR's lifecycle rules
# never expire a released image. It is the only principal besides the build role that may write an image
# (ecr:PutImage on the one repository, no layer upload); deploy roles cannot. See README.md for the design.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  region         = data.aws_region.current.region
  log_group_name = "/aws/lambda/${var.name}"
  log_group_arn  = "arn:${data.aws_partition.current.partition}:logs:${local.region}:${data.aws_caller_identity.current.account_id}:log-group:${local.log_group_name}"
  # Release records, heads and indexes of every environment: the function reads, never writes, them.
  record_objects = "${var.ledger_bucket_arn}/${var.ledger_prefix}/envs/*"
}

data "archive_file" "source" {
  type             = "zip"
  source_file      = "${path.module}/src/promotion_tagger.py"
  output_path      = "${path.root}/.terraform/envpromote-promotion-tagger.zip"
  output_file_mode = "0644"
}

data "aws_iam_policy_document" "trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "tagger" {
  name                 = var.name
  description          = "EnvPromote promotion tagger: tags released digests in ${var.repository_name} from ledger records"
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags
}

data "aws_iam_policy_document" "tagger" {
  statement {
    sid       = "ReadLedgerRecords"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = [local.record_objects]
  }

  statement {
    sid       = "DecryptLedgerThroughS3Only"
    actions   = ["kms:Decrypt"]
    resources = [var.ledger_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }

  # Tagging an existing image in ECR is PutImage with that image's manifest. No layer-upload action: the
  # function cannot upload a blob, and the handler only ever re-puts the manifest BatchGetImage returned
  # for the digest the record names (the digest is passed, so ECR checks the manifest matches it).
  statement {
    sid       = "TagReleasedImages"
    actions   = ["ecr:BatchGetImage", "ecr:DescribeImages", "ecr:PutImage"]
    resources = [var.repository_arn]
  }

  statement {
    sid       = "OwnLogGroupOnly"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arn}:*"]
  }

  statement {
    sid       = "OwnDeadLetterQueueOnly"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letters.arn]
  }

  statement {
    sid = "XRayTracesNotResourceScopable"
    # X-Ray's PutTraceSegments/PutTelemetryRecords accept no resource ARN.
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "tagger" {
  name   = "envpromote-promotion-tagger"
  role   = aws_iam_role.tagger.id
  policy = data.aws_iam_policy_document.tagger.json
}

resource "aws_cloudwatch_log_group" "tagger" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_sqs_queue" "dead_letters" {
  name                      = "${var.name}-dead-letters"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_lambda_function" "tagger" {
  #checkov:skip=CKV_AWS_117:The function calls only S3 and ECR APIs; a VPC would add NAT or endpoints and no protection.
  #checkov:skip=CKV_AWS_272:The code is one reviewed file from this repository, zipped at plan time; code signing needs a signing profile per organisation.
  #checkov:skip=CKV_AWS_173:The environment holds names (repository, prefix, tag prefix), no secrets.
  function_name                  = var.name
  description                    = "Tags digests that ledger success records name as promoted-<env>-<digest12> in ${var.repository_name}"
  role                           = aws_iam_role.tagger.arn
  runtime                        = "python3.12"
  handler                        = "promotion_tagger.lambda_handler"
  filename                       = data.archive_file.source.output_path
  source_code_hash               = data.archive_file.source.output_base64sha256
  architectures                  = ["arm64"]
  memory_size                    = 128
  timeout                        = 30
  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = {
      REPOSITORY    = var.repository_name
      REGISTRY_ID   = data.aws_caller_identity.current.account_id
      LEDGER_PREFIX = var.ledger_prefix
      TAG_PREFIX    = var.promoted_tag_prefix
    }
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.dead_letters.arn
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.tagger.name
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.tagger]
}

# S3 invokes asynchronously: two retries, then the event goes to the dead-letter queue (alarmed below).
resource "aws_lambda_function_event_invoke_config" "tagger" {
  function_name                = aws_lambda_function.tagger.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 21600
}

resource "aws_lambda_permission" "ledger_notifies" {
  statement_id   = "LedgerBucketNotifies"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.tagger.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = var.ledger_bucket_arn
  source_account = data.aws_caller_identity.current.account_id
}

# A bucket has ONE notification configuration: this module owns the ledger bucket's. One entry per
# environment, on its record keys only (<prefix>/envs/<env>/<record_dir>/, envpromote/ledger/layout.py):
# heads and indexes are written on every release too, and need no invocation.
resource "aws_s3_bucket_notification" "ledger" {
  bucket = var.ledger_bucket_name

  dynamic "lambda_function" {
    for_each = toset(var.environments)

    content {
      id                  = "envpromote-promotion-tagger-${lambda_function.value}"
      lambda_function_arn = aws_lambda_function.tagger.arn
      events              = ["s3:ObjectCreated:*"]
      filter_prefix       = "${var.ledger_prefix}/envs/${lambda_function.value}/${var.record_dir}/"
      filter_suffix       = ".json"
    }
  }

  depends_on = [aws_lambda_permission.ledger_notifies]
}

# A record the function refused, an image it could not tag or a squatted tag: someone must look.
resource "aws_cloudwatch_metric_alarm" "failures" {
  alarm_name          = "${var.name}-failures"
  alarm_description   = "The promotion tagger failed (refused record, missing image, tag conflict or error): a released digest may be unprotected from expiry. Read the function's log and the dead-letter queue."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.tagger.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${var.name}-dead-letters"
  alarm_description   = "Ledger events the promotion tagger gave up on. Re-drive them after fixing the cause."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letters.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}
