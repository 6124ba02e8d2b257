variable "name" {
  description = "Base name for the cluster, roles, load balancer and alarms, for example envpromote-dev."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,26}[a-z0-9]$", var.name))
    error_message = "name must be 2-28 lowercase letters, digits or '-' (the load balancer name derives from it)."
  }
}

variable "service_name" {
  description = "ECS service name (envpromote.toml service)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.service_name))
    error_message = "service_name must be 1-255 letters, digits, '_' or '-'."
  }
}

variable "family" {
  description = "Task definition family EnvPromote registers revisions in (envpromote.toml family)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.family))
    error_message = "family must be 1-255 letters, digits, '_' or '-'."
  }
}

variable "container_name" {
  description = "Name of the application container (envpromote.toml container); the load balancer targets it."
  type        = string
  default     = "web"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.container_name))
    error_message = "container_name must be 1-255 letters, digits, '_' or '-'."
  }
}

variable "container_port" {
  description = "Port the container listens on."
  type        = number
  default     = 8080

  validation {
    condition     = var.container_port >= 1 && var.container_port <= 65535
    error_message = "container_port must be between 1 and 65535."
  }
}

variable "bootstrap_image" {
  description = "Image of the placeholder task definition the service is created with. EnvPromote registers every later revision (by digest); Terraform ignores them."
  type        = string
  default     = "public.ecr.aws/docker/library/busybox:stable"
}

variable "cpu" {
  description = "Fargate CPU units of the placeholder task definition."
  type        = number
  default     = 256

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be a Fargate CPU size: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "memory" {
  description = "Fargate memory (MiB) of the placeholder task definition."
  type        = number
  default     = 512

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880
    error_message = "memory must be between 512 and 122880 MiB."
  }
}

variable "desired_count" {
  description = "Initial number of tasks. Terraform ignores later changes (scaling and EnvPromote own it)."
  type        = number
  default     = 2

  validation {
    condition     = var.desired_count >= 0 && var.desired_count <= 1000 && floor(var.desired_count) == var.desired_count
    error_message = "desired_count must be a whole number between 0 and 1000."
  }
}

variable "vpc_id" {
  description = "VPC to run in. Null uses the account's default VPC (public subnets, public IPs: for trials only)."
  type        = string
  default     = null

  validation {
    condition     = var.vpc_id == null || can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0, or be null."
  }
}

variable "private_subnet_ids" {
  description = "Subnets of the tasks (required with vpc_id; the tasks get no public IP)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", id))])
    error_message = "private_subnet_ids must be subnet ids."
  }
}

variable "public_subnet_ids" {
  description = "Subnets of the load balancer (required with vpc_id; public subnets unless internal_load_balancer)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.public_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", id))])
    error_message = "public_subnet_ids must be subnet ids."
  }
}

variable "internal_load_balancer" {
  description = "Make the load balancer internal (reachable only inside the VPC)."
  type        = bool
  default     = false
}

variable "ingress_cidrs" {
  description = "CIDR blocks allowed to reach the load balancer's listener."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = alltrue([for cidr in var.ingress_cidrs : can(cidrnetmask(cidr))])
    error_message = "ingress_cidrs must be IPv4 CIDR blocks."
  }
}

variable "certificate_arn" {
  description = "ACM certificate for an HTTPS listener (HTTP then redirects to HTTPS). Null serves plain HTTP."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN or null."
  }
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "load_balancer_deletion_protection" {
  description = "Protect the load balancer from deletion (turn on for production)."
  type        = bool
  default     = true
}

variable "health_check_path" {
  description = "Path the load balancer probes on the container."
  type        = string
  default     = "/healthz"

  validation {
    condition     = startswith(var.health_check_path, "/") && length(var.health_check_path) <= 1024
    error_message = "health_check_path must start with '/' and be at most 1024 characters."
  }
}

variable "health_check_interval" {
  description = "Seconds between load balancer health checks (AWS default 30)."
  type        = number
  default     = 5

  validation {
    condition     = var.health_check_interval >= 5 && var.health_check_interval <= 300
    error_message = "health_check_interval must be between 5 and 300 seconds."
  }
}

variable "health_check_timeout" {
  description = "Seconds a health check may take; must be less than health_check_interval (AWS default 5)."
  type        = number
  default     = 3

  validation {
    condition     = var.health_check_timeout >= 2 && var.health_check_timeout <= 120
    error_message = "health_check_timeout must be between 2 and 120 seconds."
  }
}

variable "healthy_threshold" {
  description = "Consecutive successful checks before a new task receives traffic (AWS default 5)."
  type        = number
  default     = 2

  validation {
    condition     = var.healthy_threshold >= 2 && var.healthy_threshold <= 10
    error_message = "healthy_threshold must be between 2 and 10."
  }
}

variable "unhealthy_threshold" {
  description = "Consecutive failed checks before a task is marked unhealthy (AWS default 2)."
  type        = number
  default     = 2

  validation {
    condition     = var.unhealthy_threshold >= 2 && var.unhealthy_threshold <= 10
    error_message = "unhealthy_threshold must be between 2 and 10."
  }
}

variable "deregistration_delay" {
  description = "Seconds the load balancer drains an old task before ECS stops it (AWS default 300). Keep it just above your longest request."
  type        = number
  default     = 15

  validation {
    condition     = var.deregistration_delay >= 0 && var.deregistration_delay <= 3600
    error_message = "deregistration_delay must be between 0 and 3600 seconds."
  }
}

variable "health_check_grace_period" {
  description = "Seconds ECS ignores failing load balancer health checks of a new task while it starts."
  type        = number
  default     = 30

  validation {
    condition     = var.health_check_grace_period >= 0 && var.health_check_grace_period <= 2147483647
    error_message = "health_check_grace_period must be a non-negative number of seconds."
  }
}

variable "deployment_strategy" {
  description = "How ECS deploys a new revision: ROLLING (replace tasks behind the one target group; the default), BLUE_GREEN (the whole new revision behind a test listener, then all production traffic at once, then bake), CANARY (canary_percent of production traffic for canary_bake_time_minutes, then the rest, then bake) or LINEAR (linear_step_percent steps every linear_step_bake_time_minutes, then bake). The last three add a second target group, a test listener and ECS's load-balancer role."
  type        = string
  default     = "ROLLING"

  validation {
    condition     = contains(["ROLLING", "BLUE_GREEN", "CANARY", "LINEAR"], var.deployment_strategy)
    error_message = "deployment_strategy must be ROLLING, BLUE_GREEN, CANARY or LINEAR (upper case, as ECS spells them)."
  }
}

variable "bake_time_minutes" {
  description = "BLUE_GREEN, CANARY, LINEAR: minutes both revisions keep running after all production traffic has moved (rollback is instant until then; the rollback alarms are watched). Ignored by ROLLING."
  type        = number
  default     = 5

  validation {
    condition     = var.bake_time_minutes >= 0 && var.bake_time_minutes <= 1440 && floor(var.bake_time_minutes) == var.bake_time_minutes
    error_message = "bake_time_minutes must be a whole number of minutes between 0 and 1440."
  }
}

variable "canary_percent" {
  description = "CANARY: percent of production traffic the new revision takes first (a multiple of 0.1 from 0.1 to 100; ECS's default is 5)."
  type        = number
  default     = 10

  validation {
    condition     = var.canary_percent >= 0.1 && var.canary_percent <= 100 && abs(var.canary_percent * 10 - floor(var.canary_percent * 10 + 0.5)) < 0.000001
    error_message = "canary_percent must be a multiple of 0.1 between 0.1 and 100."
  }
}

variable "canary_bake_time_minutes" {
  description = "CANARY: minutes the canary share runs before the rest of production traffic moves (ECS's default is 10)."
  type        = number
  default     = 5

  validation {
    condition     = var.canary_bake_time_minutes >= 0 && var.canary_bake_time_minutes <= 1440 && floor(var.canary_bake_time_minutes) == var.canary_bake_time_minutes
    error_message = "canary_bake_time_minutes must be a whole number of minutes between 0 and 1440."
  }
}

variable "linear_step_percent" {
  description = "LINEAR: percent of production traffic moved per step (a multiple of 0.1 from 3 to 100; ECS's default is 10)."
  type        = number
  default     = 25

  validation {
    condition     = var.linear_step_percent >= 3 && var.linear_step_percent <= 100 && abs(var.linear_step_percent * 10 - floor(var.linear_step_percent * 10 + 0.5)) < 0.000001
    error_message = "linear_step_percent must be a multiple of 0.1 between 3 and 100."
  }
}

variable "linear_step_bake_time_minutes" {
  description = "LINEAR: minutes between two steps (not after the last one; ECS's default is 6)."
  type        = number
  default     = 2

  validation {
    condition     = var.linear_step_bake_time_minutes >= 0 && var.linear_step_bake_time_minutes <= 1440 && floor(var.linear_step_bake_time_minutes) == var.linear_step_bake_time_minutes
    error_message = "linear_step_bake_time_minutes must be a whole number of minutes between 0 and 1440."
  }
}

variable "lifecycle_hooks" {
  description = "Deployment lifecycle hooks (BLUE_GREEN, CANARY, LINEAR). target_type AWS_LAMBDA: ECS invokes hook_target_arn at each of lifecycle_stages with hook_details, as role_arn (null: a module role that may invoke exactly these functions). target_type PAUSE (ECS holds the deployment until ContinueServiceDeployment) is refused while the AWS provider's lifecycle_hook block has no target_type (6.25.0 has none; README, \"PAUSE hooks\")."
  type = list(object({
    target_type      = optional(string, "AWS_LAMBDA")
    hook_target_arn  = optional(string)
    role_arn         = optional(string)
    lifecycle_stages = list(string)
    hook_details     = optional(string)
  }))
  default = []

  validation {
    condition     = alltrue([for hook in var.lifecycle_hooks : contains(["AWS_LAMBDA", "PAUSE"], hook.target_type)])
    error_message = "lifecycle_hooks[*].target_type must be AWS_LAMBDA or PAUSE."
  }

  # ECS's hookable stages (botocore DeploymentLifecycleHookStage). SCALE_UP, BAKE_TIME and CLEAN_UP are
  # stages of a deployment but take no hook.
  validation {
    condition = alltrue([for hook in var.lifecycle_hooks : length(hook.lifecycle_stages) > 0 && length(distinct(hook.lifecycle_stages)) == length(hook.lifecycle_stages) && alltrue([
      for stage in hook.lifecycle_stages : contains(["RECONCILE_SERVICE", "PRE_SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"], stage)
    ])])
    error_message = "lifecycle_hooks[*].lifecycle_stages must be distinct stages from RECONCILE_SERVICE, PRE_SCALE_UP, POST_SCALE_UP, TEST_TRAFFIC_SHIFT, POST_TEST_TRAFFIC_SHIFT, PRE_PRODUCTION_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT, POST_PRODUCTION_TRAFFIC_SHIFT."
  }

  validation {
    condition = alltrue([for hook in var.lifecycle_hooks : hook.target_type != "AWS_LAMBDA" || (
      can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$", hook.hook_target_arn)) &&
      (hook.role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[^*]+$", hook.role_arn))) &&
      (hook.hook_details == null || can(jsondecode(hook.hook_details)))
    )])
    error_message = "An AWS_LAMBDA hook needs hook_target_arn = a Lambda function ARN (no wildcard); role_arn, if given, an IAM role ARN; hook_details, if given, JSON."
  }

  # When the provider gains lifecycle_hook.target_type: drop this validation, pass target_type in main.tf,
  # and leave hook_target_arn/role_arn null for PAUSE hooks.
  validation {
    condition     = alltrue([for hook in var.lifecycle_hooks : hook.target_type != "PAUSE"])
    error_message = "PAUSE hooks cannot be declared yet: the pinned AWS provider (6.25.0) has no lifecycle_hook.target_type. Use an AWS_LAMBDA hook, or see the module README (\"PAUSE hooks\")."
  }
}

variable "test_listener_port" {
  description = "Port of the test listener of traffic-shifting strategies (null: 8443 with certificate_arn, else 8080). Verification runs against it before production traffic moves."
  type        = number
  default     = null

  validation {
    condition     = var.test_listener_port == null || (try(var.test_listener_port >= 1 && var.test_listener_port <= 65535 && !contains([80, 443], var.test_listener_port), false))
    error_message = "test_listener_port must be a port between 1 and 65535 other than 80 and 443 (the production listeners)."
  }
}

variable "test_listener_cidrs" {
  description = "CIDR blocks allowed to reach the test listener (where EnvPromote's checks run: a runner's egress address, the VPC). Never public: 0.0.0.0/0 and other /0 blocks are refused."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for cidr in var.test_listener_cidrs : can(cidrnetmask(cidr)) && !endswith(cidr, "/0")])
    error_message = "test_listener_cidrs must be IPv4 CIDR blocks and none may be /0: the test listener serves revisions that have not passed verification."
  }
}

variable "test_listener_source_security_group_ids" {
  description = "Security groups (for example of a verification Lambda or a self-hosted runner) allowed to reach the test listener."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.test_listener_source_security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", id))])
    error_message = "test_listener_source_security_group_ids must be security group ids."
  }
}

variable "alarm_topic_arn" {
  description = "SNS topic that receives every alarm's ALARM and OK notifications."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sns:", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be an SNS topic ARN."
  }
}

variable "cpu_alarm_percent" {
  description = "CPU utilisation (%) above which the CPU alarm fires."
  type        = number
  default     = 80

  validation {
    condition     = var.cpu_alarm_percent > 0 && var.cpu_alarm_percent <= 100
    error_message = "cpu_alarm_percent must be in (0, 100]."
  }
}

variable "memory_alarm_percent" {
  description = "Memory utilisation (%) above which the memory alarm fires."
  type        = number
  default     = 80

  validation {
    condition     = var.memory_alarm_percent > 0 && var.memory_alarm_percent <= 100
    error_message = "memory_alarm_percent must be in (0, 100]."
  }
}

variable "response_time_alarm_seconds" {
  description = "p95 target response time (seconds) above which the latency alarm fires."
  type        = number
  default     = 2

  validation {
    condition     = var.response_time_alarm_seconds > 0 && var.response_time_alarm_seconds <= 60
    error_message = "response_time_alarm_seconds must be in (0, 60]."
  }
}

variable "target_5xx_alarm_count" {
  description = "Target 5xx responses per minute above which the 5xx alarm fires (and rolls a deployment back)."
  type        = number
  default     = 5

  validation {
    condition     = var.target_5xx_alarm_count >= 0
    error_message = "target_5xx_alarm_count must not be negative."
  }
}

variable "log_retention_days" {
  description = "Retention of the container log group, in days."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "log_kms_key_arn" {
  description = "Optional customer-managed KMS key for the log group (its key policy must allow logs.<region>.amazonaws.com)."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be a KMS key ARN or null."
  }
}

variable "tags" {
  description = "Tags added to every resource of this module."
  type        = map(string)
  default     = {}
}
