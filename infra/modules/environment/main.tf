# One environment: alarm topic, ECS service (with alarms and rollbacks), ECS events queue and the
# deploy role GitHub's <environment> jobs assume. Shared resources (ECR, ledger, lock table, OIDC
# provider) are looked up by name, so no environment reads another root's state.

data "aws_iam_openid_connect_provider" "github" {
  url = "https://token.actions.githubusercontent.com"
}

data "aws_ecr_repository" "app" {
  name = var.repository_name
}

data "aws_s3_bucket" "ledger" {
  bucket = var.ledger_bucket
}

data "aws_dynamodb_table" "locks" {
  name = var.lock_table
}

data "aws_kms_alias" "ledger" {
  name = "alias/${var.ledger_bucket}"
}

locals {
  name = "${var.project}-${var.environment}"
  tags = merge(var.tags, { "envpromote:environment" = var.environment })
}

module "alarms" {
  source = "../sns-topic"

  name             = "${local.name}-alarms"
  slack_channel_id = var.slack_channel_id
  slack_team_id    = var.slack_team_id
  tags             = local.tags
}

module "service" {
  source = "../ecs-fargate-service"

  name            = local.name
  service_name    = "${local.name}-web"
  family          = "${local.name}-web"
  alarm_topic_arn = module.alarms.topic_arn

  container_name                    = var.service.container_name
  container_port                    = var.service.container_port
  cpu                               = var.service.cpu
  memory                            = var.service.memory
  desired_count                     = var.service.desired_count
  vpc_id                            = var.service.vpc_id
  private_subnet_ids                = var.service.private_subnet_ids
  public_subnet_ids                 = var.service.public_subnet_ids
  internal_load_balancer            = var.service.internal_load_balancer
  ingress_cidrs                     = var.service.ingress_cidrs
  certificate_arn                   = var.service.certificate_arn
  load_balancer_deletion_protection = var.service.load_balancer_deletion_protection
  health_check_path                 = var.service.health_check_path
  health_check_interval             = var.service.health_check_interval
  health_check_timeout              = var.service.health_check_timeout
  healthy_threshold                 = var.service.healthy_threshold
  unhealthy_threshold               = var.service.unhealthy_threshold
  deregistration_delay              = var.service.deregistration_delay
  health_check_grace_period         = var.service.health_check_grace_period
  log_retention_days                = var.service.log_retention_days

  deployment_strategy                     = var.service.deployment_strategy
  bake_time_minutes                       = var.service.bake_time_minutes
  canary_percent                          = var.service.canary_percent
  canary_bake_time_minutes                = var.service.canary_bake_time_minutes
  linear_step_percent                     = var.service.linear_step_percent
  linear_step_bake_time_minutes           = var.service.linear_step_bake_time_minutes
  lifecycle_hooks                         = var.service.lifecycle_hooks
  test_listener_port                      = var.service.test_listener_port
  test_listener_cidrs                     = var.service.test_listener_cidrs
  test_listener_source_security_group_ids = var.service.test_listener_source_security_group_ids

  tags = local.tags
}

module "events" {
  source = "../ecs-events-queue"

  name                      = "${local.name}-web"
  cluster_arn               = module.service.cluster_arn
  service_arn               = module.service.service_arn
  service_name              = module.service.service_name
  message_retention_seconds = var.events_retention_seconds
  tags                      = local.tags
}

module "deploy_role" {
  source = "../github-oidc-role"

  name               = "${local.name}-deploy"
  kind               = "deploy"
  oidc_provider_arn  = data.aws_iam_openid_connect_provider.github.arn
  github_repository  = var.github_repository
  environment        = var.environment
  region             = var.region
  ecr_repository_arn = data.aws_ecr_repository.app.arn
  cluster_arn        = module.service.cluster_arn
  service_arn        = module.service.service_arn
  pass_role_arns     = [module.service.execution_role_arn, module.service.task_role_arn]
  ledger_bucket_arn  = data.aws_s3_bucket.ledger.arn
  ledger_prefix      = var.ledger_prefix
  ledger_kms_key_arn = data.aws_kms_alias.ledger.target_key_arn
  lock_table_arn     = data.aws_dynamodb_table.locks.arn
  events_queue_arn   = module.events.queue_arn
  alarm_arns         = module.service.alarm_arns
  tags               = local.tags
}
