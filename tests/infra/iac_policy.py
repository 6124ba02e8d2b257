"""Security and hygiene rules over infra/, read from the HCL itself (python-hcl2), not from a plan.

Each rule takes a parsed configuration and returns violations (empty = compliant), so the tests can run
every rule against the real modules and against mutated copies that must fail.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

PUSH_ACTIONS = {
    "ecr:initiatelayerupload",
    "ecr:uploadlayerpart",
    "ecr:completelayerupload",
    "ecr:*",
    "*",
}
# Actions that write or remove an image, or change what protects one. Deploy roles get none of them.
IMAGE_WRITE_ACTIONS = {
    "ecr:putimage",
    "ecr:batchdeleteimage",
    "ecr:putimagetagmutability",
    "ecr:putlifecyclepolicy",
    "ecr:deletelifecyclepolicy",
    "ecr:setrepositorypolicy",
    "ecr:deleterepository",
}
# The promotion tagger's whole policy: read records, tag images in one repository, log, dead-letter, trace.
TAGGER_ACTIONS = {
    "s3:getobject",
    "s3:getobjectversion",
    "kms:decrypt",
    "ecr:batchgetimage",
    "ecr:describeimages",
    "ecr:putimage",
    "logs:createlogstream",
    "logs:putlogevents",
    "sqs:sendmessage",
    "xray:puttracesegments",
    "xray:puttelemetryrecords",
}
# Actions that AWS does not let a policy scope to a resource ARN (or that we pin by condition).
RESOURCE_STAR_ALLOWED = {
    "ecs:registertaskdefinition",
    "ecs:describetaskdefinition",
    "ecr:getauthorizationtoken",
    "ecs:listtasks",
}
# What envpromote's build tags images with: git-<12 hex>[-dirty], scenario builds git-<12 hex>[-dirty]-<slug>.
BUILD_TAG_EXAMPLES = ("git-0123456789ab", "git-0123456789ab-dirty", "git-0123456789ab-dirty-crash-loop")
DEPLOY_SQS_ACTIONS = {"sqs:receivemessage", "sqs:deletemessage", "sqs:getqueueattributes"}
# ECS deployment strategies and the lifecycle stages a hook may take (botocore's ECS model:
# DeploymentStrategy, DeploymentLifecycleHookStage; tests/infra/test_iac_policies.py compares them).
ECS_STRATEGIES = ("ROLLING", "BLUE_GREEN", "CANARY", "LINEAR")
ECS_HOOK_STAGES = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
)
# What a deploy role may do in ECS: register/read revisions, update and read its service, follow, continue
# and stop its service's deployments, read its tasks and cluster. Nothing else (no DeleteService, no task sets).
DEPLOY_ECS_ACTIONS = {
    "ecs:registertaskdefinition",
    "ecs:describetaskdefinition",
    "ecs:tagresource",
    "ecs:updateservice",
    "ecs:describeservices",
    "ecs:listservicedeployments",
    "ecs:describeservicedeployments",
    "ecs:continueservicedeployment",
    "ecs:stopservicedeployment",
    "ecs:describetasks",
    "ecs:listtasks",
    "ecs:describeclusters",
}
# Actions on one service deployment: scoped to service-deployment/<cluster>/<service>/* of var.service_arn.
SERVICE_DEPLOYMENT_ACTIONS = {
    "ecs:describeservicedeployments",
    "ecs:continueservicedeployment",
    "ecs:stopservicedeployment",
}
SERVICE_DEPLOYMENT_ARN = (
    '${local.deploy ? "${replace(var.service_arn, ":service/", ":service-deployment/")}/*" : null}'
)
# Resources that exist only for a traffic-shifting strategy (modules/ecs-fargate-service/traffic_shift.tf).
TRAFFIC_SHIFT_RESOURCES = (
    ("aws_lb_target_group", "alternate"),
    ("aws_lb_listener", "test"),
    ("aws_lb_listener_rule", "production"),
    ("aws_lb_listener_rule", "test"),
    ("aws_iam_role", "load_balancers"),
    ("aws_iam_role_policy_attachment", "load_balancers"),
    ("aws_cloudwatch_metric_alarm", "unhealthy_hosts_alternate"),
    ("aws_cloudwatch_metric_alarm", "target_5xx_alternate"),
)
REQUIRED_ALARM_METRICS = {
    "CPUUtilization",
    "MemoryUtilization",
    "UnHealthyHostCount",
    "TargetResponseTime",
    "HTTPCode_Target_5XX_Count",
    "RunningTaskCount",
}


def _unquote(value: Any) -> Any:
    """python-hcl2 8 keeps the quotes of string literals ('"x"'); 7 does not. Normalise both."""
    if isinstance(value, str):
        if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
            return value[1:-1]
        return value
    if isinstance(value, list):
        return [_unquote(item) for item in value]
    if isinstance(value, dict):
        return {_unquote(key): _unquote(item) for key, item in value.items() if not str(key).startswith("__")}
    return value


@dataclass
class Config:
    """One Terraform directory: blocks by kind, then by (type, name) or name."""

    path: Path
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    data: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    terraform: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: body for (kind, name), body in self.resources.items() if kind == resource_type}


def parse_text(text: str) -> dict[str, Any]:
    """The HCL document of `text` (a fresh copy: callers may change it)."""
    return copy.deepcopy(_parsed(text))


@functools.cache
def _parsed(text: str) -> dict[str, Any]:
    # python-hcl2's parser costs far more than a copy; each regression fixture changes one file of a directory,
    # so the others (and the real configuration's files) are parsed once per test process, not once per test.
    parsed: dict[str, Any] = _unquote(hcl2.loads(text))
    return parsed


def load(directory: Path, overrides: dict[str, str] | None = None) -> Config:
    """Parse every *.tf file of `directory`; `overrides` replaces a file's text (for mutation fixtures)."""
    config = Config(path=directory)
    texts = {path.name: path.read_text(encoding="utf-8") for path in sorted(directory.glob("*.tf"))}
    texts.update(overrides or {})
    for text in texts.values():
        config.text += text + "\n"
        parsed = parse_text(text)
        for block in parsed.get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    config.resources[(rtype, name)] = body
        for block in parsed.get("data", []):
            for dtype, named in block.items():
                for name, body in named.items():
                    config.data[(dtype, name)] = body
        for block in parsed.get("variable", []):
            config.variables.update(block)
        for block in parsed.get("output", []):
            config.outputs.update(block)
        for block in parsed.get("module", []):
            config.modules.update(block)
        for block in parsed.get("locals", []):
            config.locals.update(block)
        config.terraform.extend(parsed.get("terraform", []))
    return config


def _first(value: Any) -> Any:
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def _blocks(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = body.get(name, [])
    if isinstance(value, dict):
        return [value]
    return [item for item in value if isinstance(item, dict)]


def _is_true(value: Any) -> bool:
    value = _first(value)
    return value is True or value == "true"


def _strings(value: Any) -> list[str]:
    value = _first(value) if not isinstance(value, list) else value
    if isinstance(value, list):
        return [str(item) for item in value]
    return [str(value)] if value is not None else []


def statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Statements of an aws_iam_policy_document, dynamic "statement" blocks' content included."""
    found = list(_blocks(doc, "statement"))
    for dynamic in _blocks(doc, "dynamic"):
        for content in _blocks(dynamic.get("statement", {}), "content"):
            found.append(content)
    return found


def actions_of(statement: dict[str, Any]) -> set[str]:
    return {action.lower() for action in _strings(statement.get("actions", []))}


def conditions_of(statement: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    return [
        (str(_first(c.get("test"))), str(_first(c.get("variable"))), _strings(c.get("values", [])))
        for c in _blocks(statement, "condition")
    ]


# Rules ---------------------------------------------------------------------------------------------


def rule_oidc_trust(config: Config) -> list[str]:
    """Web-identity trust: StringEquals on sub and aud; deploy roles trust one GitHub environment only."""
    problems: list[str] = []
    for (dtype, name), doc in config.data.items():
        if dtype != "aws_iam_policy_document":
            continue
        for statement in statements(doc):
            if "sts:assumerolewithwebidentity" not in actions_of(statement):
                continue
            conditions = conditions_of(statement)
            subs = [c for c in conditions if c[1].endswith(":sub")]
            auds = [c for c in conditions if c[1].endswith(":aud")]
            if not subs:
                problems.append(f"{name}: web-identity trust without a sub condition")
            for test, _, values in subs:
                if test != "StringEquals":
                    problems.append(f"{name}: sub is matched with {test}, not StringEquals")
                if any("*" in value for value in values):
                    problems.append(f"{name}: sub allows a wildcard")
            if not any(
                test == "StringEquals" and values == ["sts.amazonaws.com"] for test, _, values in auds
            ):
                problems.append(f"{name}: aud is not StringEquals sts.amazonaws.com")
    subject = config.locals.get("subject")
    if subject is not None:
        deploy_subject = deploy_branch_of(str(subject))
        if deploy_subject is None:
            problems.append("local.subject does not distinguish deploy roles (local.deploy ? ... : ...)")
        else:
            if ":environment:" not in deploy_subject or ":ref:" in deploy_subject:
                problems.append(f"deploy roles trust {deploy_subject!r}: must be one GitHub environment")
            if "*" in deploy_subject:
                problems.append("deploy role subject contains a wildcard")
    return problems


def deploy_branch_of(expression: str) -> str | None:
    """The deploy role's subject from `local.deploy ? "<deploy>" : "<build>"` (None if not that shape)."""
    match = re.search(r'local\.deploy\s*\?\s*"(?P<deploy>(?:[^"\\]|\\.|\$\{[^}]*\})*)"\s*:', expression)
    return match.group("deploy") if match else None


def _policy_doc(config: Config, name: str) -> dict[str, Any] | None:
    return config.data.get(("aws_iam_policy_document", name))


def rule_deploy_policy(config: Config) -> list[str]:
    """Deploy roles: no push, PassRole only on named roles to ECS tasks, own service/queue only."""
    doc = _policy_doc(config, "deploy")
    if doc is None:
        return ["no deploy policy document"]
    problems: list[str] = []
    for statement in statements(doc):
        sid = str(_first(statement.get("sid", "?")))
        actions = actions_of(statement)
        resources = _strings(statement.get("resources", []))
        pushing = actions & PUSH_ACTIONS
        if pushing:
            problems.append(f"{sid}: deploy role can push images ({', '.join(sorted(pushing))})")
        if any(action.endswith(":*") or action == "*" for action in actions):
            problems.append(f"{sid}: wildcard action")
        writing = actions & IMAGE_WRITE_ACTIONS
        if writing:
            problems.append(
                f"{sid}: deploy role can create, re-point or remove images ({', '.join(sorted(writing))})"
            )
        if "*" in resources and not actions <= RESOURCE_STAR_ALLOWED:
            problems.append(
                f"{sid}: Resource * for resource-scopable actions {sorted(actions - RESOURCE_STAR_ALLOWED)}"
            )
        clustered = any(var == "ecs:cluster" for _, var, _ in conditions_of(statement))
        if "ecs:listtasks" in actions and "*" in resources and not clustered:
            problems.append(f"{sid}: ListTasks on * without an ecs:cluster condition")
        if "iam:passrole" in actions:
            if any("*" in resource for resource in resources):
                problems.append(f"{sid}: iam:PassRole on a wildcard resource")
            passed_to = [c for c in conditions_of(statement) if c[1] == "iam:PassedToService"]
            if not passed_to or passed_to[0][2] != ["ecs-tasks.amazonaws.com"]:
                problems.append(f"{sid}: iam:PassRole without iam:PassedToService = ecs-tasks.amazonaws.com")
        if actions & {"ecs:updateservice", "ecs:describeservices"} and resources != ["${var.service_arn}"]:
            problems.append(f"{sid}: UpdateService/DescribeServices not scoped to var.service_arn")
        sqs = {action for action in actions if action.startswith("sqs:")}
        if sqs and (not sqs <= DEPLOY_SQS_ACTIONS or resources != ["${statement.value}"]):
            problems.append(f"{sid}: SQS access beyond receive/delete on the environment's own queue")
        leading_keys = any(var == "dynamodb:LeadingKeys" for _, var, _ in conditions_of(statement))
        if any(action.startswith("dynamodb:") for action in actions) and not leading_keys:
            problems.append(f"{sid}: lock table access not limited by dynamodb:LeadingKeys")
        if actions & {"s3:getobject", "s3:getobjectversion"}:
            objects = str(config.locals.get("ledger_objects", ""))
            if resources != ["${local.ledger_objects}"] or not objects.endswith(
                '${var.ledger_prefix}/*" : null}'
            ):
                problems.append(f"{sid}: ledger reads outside the ledger prefix")
        if actions & {"s3:putobject", "s3:*"}:
            own = str(config.locals.get("ledger_own_records", ""))
            if resources != ["${local.ledger_own_records}"] or "/envs/${coalesce(var.environment" not in own:
                problems.append(f"{sid}: ledger writes outside <prefix>/envs/<its environment>/")
        if actions & {
            "s3:deleteobject",
            "s3:deleteobjectversion",
            "s3:putobjectretention",
            "s3:bypassgovernanceretention",
        }:
            problems.append(f"{sid}: the deploy role must not delete or unlock ledger records")
        problems += _deploy_ecs_problems(sid, actions, resources)
    problems += _service_deployment_grants(config, doc)
    return problems


def _deploy_ecs_problems(sid: str, actions: set[str], resources: list[str]) -> list[str]:
    """ECS in a deploy role: the allow-list only; service deployments of its own service only."""
    problems: list[str] = []
    beyond = {action for action in actions if action.startswith("ecs:")} - DEPLOY_ECS_ACTIONS
    if beyond:
        problems.append(f"{sid}: ECS actions beyond deploying its own service ({', '.join(sorted(beyond))})")
    if "ecs:listservicedeployments" in actions and resources != ["${var.service_arn}"]:
        problems.append(f"{sid}: ListServiceDeployments not scoped to var.service_arn")
    if actions & SERVICE_DEPLOYMENT_ACTIONS and resources != ["${local.service_deployment_arn}"]:
        problems.append(
            f"{sid}: {sorted(actions & SERVICE_DEPLOYMENT_ACTIONS)} not scoped to its service's deployments"
        )
    return problems


def _service_deployment_grants(config: Config, doc: dict[str, Any]) -> list[str]:
    """The engine follows, continues and stops its deployments: all four actions, on its service only."""
    problems: list[str] = []
    granted = {action for statement in statements(doc) for action in actions_of(statement)}
    needed = SERVICE_DEPLOYMENT_ACTIONS | {"ecs:listservicedeployments"}
    if needed - granted:
        problems.append(
            f"the deploy role lacks {sorted(needed - granted)} (verified pause, continue, rollback)"
        )
    if str(config.locals.get("service_deployment_arn")) != SERVICE_DEPLOYMENT_ARN:
        problems.append(
            "local.service_deployment_arn is not service-deployment/<cluster>/<service>/* of var.service_arn"
        )
    return problems


def rule_build_policy(config: Config) -> list[str]:
    """The build role: push to the repository, add build records, nothing else."""
    doc = _policy_doc(config, "build")
    if doc is None:
        return ["no build policy document"]
    problems: list[str] = []
    for statement in statements(doc):
        sid = str(_first(statement.get("sid", "?")))
        actions = actions_of(statement)
        resources = _strings(statement.get("resources", []))
        services = {action.split(":")[0] for action in actions}
        if not services <= {"ecr", "s3", "kms"}:
            problems.append(f"{sid}: build role reaches beyond ECR and the ledger ({sorted(services)})")
        if any(action.endswith(":*") or action == "*" for action in actions):
            problems.append(f"{sid}: wildcard action")
        if "s3" in services:
            builds = str(config.locals.get("ledger_build_records", ""))
            if (
                actions != {"s3:putobject"}
                or resources != ["${statement.value}"]
                or "/builds/*" not in builds
            ):
                problems.append(f"{sid}: build role S3 access beyond adding <prefix>/builds/ records")
        if "*" in resources and not actions <= {"ecr:getauthorizationtoken"}:
            problems.append(f"{sid}: Resource * for {sorted(actions)}")
    return problems


def rule_only_build_pushes(config: Config) -> list[str]:
    """Only the build policy document may contain layer-upload actions."""
    problems: list[str] = []
    for (dtype, name), doc in config.data.items():
        if dtype != "aws_iam_policy_document" or name == "build":
            continue
        for statement in statements(doc):
            pushing = actions_of(statement) & PUSH_ACTIONS
            if pushing and name != "trust":
                problems.append(f"{name}: {sorted(pushing)} outside the build role")
    build = _policy_doc(config, "build")
    if build is None:
        problems.append("no build policy document")
    return problems


def rule_image_writers(configs: list[Config]) -> list[str]:
    """ecr:PutImage exists in two policy documents only: the build role's and the promotion tagger's."""
    allowed = {("github-oidc-role", "build"), ("promotion-tagger", "tagger")}
    problems: list[str] = []
    for config in configs:
        for (dtype, name), doc in config.data.items():
            if dtype != "aws_iam_policy_document" or (config.path.name, name) in allowed:
                continue
            for statement in statements(doc):
                if _first(statement.get("effect", "Allow")) == "Deny":
                    continue
                writing = actions_of(statement) & (IMAGE_WRITE_ACTIONS | {"ecr:*", "*"})
                if writing:
                    sid = str(_first(statement.get("sid", "?")))
                    problems.append(
                        f"{config.path.name}/{name}/{sid}: writes images ({', '.join(sorted(writing))})"
                    )
    return problems


def rule_tagger(config: Config) -> list[str]:
    """The promotion tagger: reads records, tags images in the one repository, hears only record keys."""
    doc = _policy_doc(config, "tagger")
    if doc is None:
        return ["no tagger policy document"]
    problems: list[str] = []
    for statement in statements(doc):
        sid = str(_first(statement.get("sid", "?")))
        actions = actions_of(statement)
        resources = _strings(statement.get("resources", []))
        beyond = actions - TAGGER_ACTIONS
        if beyond:
            problems.append(f"{sid}: tagger holds {sorted(beyond)} beyond reading records and tagging")
        if any(action.startswith("ecr:") for action in actions) and resources != ["${var.repository_arn}"]:
            problems.append(f"{sid}: ECR access beyond the one repository")
        if any(action.startswith("s3:") for action in actions):
            records = str(config.locals.get("record_objects", ""))
            if resources != ["${local.record_objects}"] or not records.endswith(
                "/${var.ledger_prefix}/envs/*"
            ):
                problems.append(f"{sid}: S3 reads outside <prefix>/envs/")
        if "kms:decrypt" in actions and not any(c[1] == "kms:ViaService" for c in conditions_of(statement)):
            problems.append(f"{sid}: kms:Decrypt not limited to S3 (kms:ViaService)")
        if "*" in resources and not actions <= {"xray:puttracesegments", "xray:puttelemetryrecords"}:
            problems.append(f"{sid}: Resource * for {sorted(actions)}")
    notification = config.resources.get(("aws_s3_bucket_notification", "ledger"), {})
    targets = _blocks(notification, "lambda_function") + [
        content
        for dynamic in _blocks(notification, "dynamic")
        for content in _blocks(dynamic.get("lambda_function", {}), "content")
    ]
    if not targets:
        problems.append("no S3 notification of the ledger bucket to the function")
    for target in targets:
        if not str(_first(target.get("filter_prefix"))).startswith("${var.ledger_prefix}/envs/${"):
            problems.append("the function is notified of keys outside <prefix>/envs/<env>/")
        if _strings(target.get("events")) != ["s3:ObjectCreated:*"]:
            problems.append("the function must hear object creations only")
    permission = config.resources.get(("aws_lambda_permission", "ledger_notifies"), {})
    if _first(permission.get("source_arn")) != "${var.ledger_bucket_arn}" or not permission.get(
        "source_account"
    ):
        problems.append("the invoke permission is not limited to the ledger bucket and account")
    function = config.resources.get(("aws_lambda_function", "tagger"), {})
    if not _blocks(function, "dead_letter_config") or "reserved_concurrent_executions" not in function:
        problems.append("the function needs a dead-letter queue and a concurrency cap")
    return problems


# The release board's role (modules/board-role): exactly what `invoke board` reads, nothing that writes.
BOARD_ACTIONS = {
    "s3:listbucket",
    "s3:getobject",
    "kms:decrypt",
    "ecs:describeservices",
    "ecs:describetaskdefinition",
    "dynamodb:getitem",
    "sts:assumerole",
}
# Verbs of actions that change something (the part after "service:"). A board action starting with one of
# them is a write whatever the service.
WRITE_VERBS = re.compile(
    r"^(put|delete|update|create|tag|untag|register|deregister|start|stop|run|submit|continue|set|pass|attach"
    r"|detach|modify|upload|complete|initiate|restore|replicate|bypass|abort|batchwrite|transact|write|encrypt"
    r"|reencrypt|generatedatakey|sign|invoke|publish|send|execute|import|replace|reset|rotate|enable|disable"
    r"|schedule|cancel|copy|move|add|remove|revoke|grant|retire)"
)
BOARD_SUBJECT = "repo:${var.github_repository}:environment:board"
BOARD_LEDGER_OBJECTS = "${var.ledger_bucket_arn}/${var.ledger_prefix}/*"
# Ways to give a role more than its inline policy: the board role has its one inline policy only.
EXTRA_POLICY_RESOURCES = (
    "aws_iam_role_policy_attachment",
    "aws_iam_policy_attachment",
    "aws_iam_policy",
    "aws_iam_role_policy_attachments_exclusive",
)


def is_write_action(action: str) -> bool:
    """True for a write-like IAM action (`s3:PutObject`, `ecs:TagResource`, ...) or any wildcard."""
    return "*" in action or WRITE_VERBS.match(action.lower().split(":", 1)[-1]) is not None


def rule_board_role(config: Config) -> list[str]:
    """The board role: trusted by the GitHub environment `board` only; reads the ledger prefix, the chain's
    services and task definitions (region pinned), the chain's lock items; decrypts through S3/DynamoDB only."""
    trust = _policy_doc(config, "trust")
    doc = _policy_doc(config, "board")
    if trust is None or doc is None:
        return ["no board trust or policy document"]
    problems = _board_trust_problems(config, trust)
    sources = _dynamic_sources(doc)
    for statement in statements(doc):
        sid = str(_first(statement.get("sid", "?")))
        if _first(statement.get("effect", "Allow")) == "Deny":
            continue
        actions = actions_of(statement)
        resources = _strings(statement.get("resources", []))
        conditions = conditions_of(statement)
        writes = sorted(action for action in actions if is_write_action(action))
        if writes:
            problems.append(f"{sid}: the board role must not write ({', '.join(writes)})")
        beyond = actions - BOARD_ACTIONS
        if beyond:
            problems.append(f"{sid}: actions beyond what the board reads ({', '.join(sorted(beyond))})")
        if "*" in resources and not actions <= {"ecs:describetaskdefinition"}:
            problems.append(f"{sid}: Resource * for {sorted(actions - {'ecs:describetaskdefinition'})}")
        source = sources.get(sid, "")
        problems += _board_scope_problems(config, sid, actions, resources, conditions, source)
    granted = {action for statement in statements(doc) for action in actions_of(statement)}
    lacking = BOARD_ACTIONS - {"sts:assumerole"} - granted
    if lacking:
        problems.append(f"the board role lacks {sorted(lacking)}: the board would show read errors")
    for rtype in EXTRA_POLICY_RESOURCES:
        if config.of_type(rtype):
            problems.append(f"the board role gets policies beyond its inline one ({rtype})")
    role = config.resources.get(("aws_iam_role", "this"), {})
    if "managed_policy_arns" in role or _blocks(role, "inline_policy"):
        problems.append("the board role gets policies beyond its inline one (aws_iam_role)")
    if str(_first(role.get("assume_role_policy"))) != "${data.aws_iam_policy_document.trust.json}":
        problems.append("the board role's trust is not the trust document")
    policies = config.of_type("aws_iam_role_policy")
    if [str(_first(p.get("policy"))) for p in policies.values()] != [
        "${data.aws_iam_policy_document.board.json}"
    ]:
        problems.append("the board role's inline policy is not exactly the board document")
    return problems


def rule_board_environment_reserved(config: Config) -> list[str]:
    """modules/github-oidc-role refuses a deploy role for the GitHub environment `board`: its subject is the
    board role's, and a deploy role trusting it would let the board's job deploy."""
    if not any('var.environment != "board"' in v for v in _validations(config, "environment")):
        return ["github-oidc-role accepts environment = board (the read-only board role's subject)"]
    return []


def _board_trust_problems(config: Config, trust: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if str(config.locals.get("subject")) != BOARD_SUBJECT:
        problems.append(f"the board role trusts {config.locals.get('subject')!r}, not {BOARD_SUBJECT!r}")
    for statement in statements(trust):
        sid = str(_first(statement.get("sid", "?")))
        if actions_of(statement) != {"sts:assumerolewithwebidentity"}:
            problems.append(f"trust/{sid}: grants {sorted(actions_of(statement))}, not web identity only")
        principals = _blocks(statement, "principals")
        if [(_first(p.get("type")), _strings(p.get("identifiers"))) for p in principals] != [
            ("Federated", ["${var.oidc_provider_arn}"])
        ]:
            problems.append(f"trust/{sid}: principals other than the GitHub OIDC provider")
        subs = [c for c in conditions_of(statement) if c[1].endswith(":sub")]
        if subs != [("StringEquals", "token.actions.githubusercontent.com:sub", ["${local.subject}"])]:
            problems.append(f"trust/{sid}: sub is not StringEquals the board environment's subject only")
        auds = [c for c in conditions_of(statement) if c[1].endswith(":aud")]
        if auds != [("StringEquals", "token.actions.githubusercontent.com:aud", ["sts.amazonaws.com"])]:
            problems.append(f"trust/{sid}: aud is not StringEquals sts.amazonaws.com")
    return problems


def _dynamic_sources(doc: dict[str, Any]) -> dict[str, str]:
    """sid -> for_each expression of each dynamic "statement" block of a policy document."""
    sources: dict[str, str] = {}
    for dynamic in _blocks(doc, "dynamic"):
        for content in _blocks(dynamic.get("statement", {}), "content"):
            sources[str(_first(content.get("sid", "?")))] = str(_first(dynamic["statement"].get("for_each")))
    return sources


def _board_scope_problems(
    config: Config,
    sid: str,
    actions: set[str],
    resources: list[str],
    conditions: list[tuple[str, str, list[str]]],
    source: str,
) -> list[str]:
    """Each board action on its own resource, with its condition (`source`: a dynamic statement's for_each)."""
    problems: list[str] = []
    by_variable = {variable: (test, values) for test, variable, values in conditions}
    if "s3:getobject" in actions and (
        resources != ["${local.ledger_objects}"]
        or config.locals.get("ledger_objects") != BOARD_LEDGER_OBJECTS
    ):
        problems.append(f"{sid}: ledger reads outside <bucket>/<prefix>/*")
    if "s3:listbucket" in actions and (
        resources != ["${var.ledger_bucket_arn}"]
        or by_variable.get("s3:prefix") != ("StringLike", ["${var.ledger_prefix}", "${var.ledger_prefix}/*"])
    ):
        problems.append(f"{sid}: ListBucket not limited to the ledger prefix (s3:prefix)")
    if "kms:decrypt" in actions:
        test, via = by_variable.get("kms:ViaService", ("", []))
        if (
            resources != ["${statement.value}"]
            or "var.ledger_kms_key_arn" not in source
            or test != "StringEquals"
            or not via
            or not all(v.startswith(("s3.", "dynamodb.")) for v in via)
        ):
            problems.append(f"{sid}: kms:Decrypt not limited to the ledger key through S3/DynamoDB")
    if "ecs:describeservices" in actions and resources != ["${var.service_arns}"]:
        problems.append(f"{sid}: DescribeServices not scoped to the chain's services (var.service_arns)")
    if "ecs:describetaskdefinition" in actions:
        regions = str(config.locals.get("ecs_regions", ""))
        if by_variable.get("aws:RequestedRegion") != ("StringEquals", ["${local.ecs_regions}"]) or (
            "var.service_arns" not in regions
        ):
            problems.append(
                f"{sid}: DescribeTaskDefinition without aws:RequestedRegion pinned to the services"
            )
    if "dynamodb:getitem" in actions and (
        resources != ["${var.lock_table_arn}"]
        or by_variable.get("dynamodb:LeadingKeys") != ("ForAllValues:StringEquals", ["${var.lock_ids}"])
    ):
        problems.append(f"{sid}: lock table reads not limited to the chain's items (dynamodb:LeadingKeys)")
    if "sts:assumerole" in actions:
        validations = " ".join(_validations(config, "assume_role_arns"))
        if (
            resources != ["${statement.value}"]
            or "var.assume_role_arns" not in source
            or "-(deploy|build)$" not in validations
        ):
            problems.append(f"{sid}: sts:AssumeRole beyond the named read roles (deploy/build roles refused)")
    return problems


def _denies(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s
        for s in statements(doc)
        if _first(s.get("effect")) == "Deny"
        and any(_strings(p.get("identifiers")) == ["*"] for p in _blocks(s, "principals"))
    ]


def rule_ledger_write_once(config: Config) -> list[str]:
    """Ledger bucket policy (every principal): records only with If-None-Match, head.json only with If-Match
    (or created with If-None-Match), no deletes, each environment's role only under its own prefix."""
    doc = _policy_doc(config, "ledger")
    if doc is None:
        return ["no ledger bucket policy document"]
    problems: list[str] = []
    head = str(config.locals.get("head_objects", ""))
    if not head.endswith("/${var.prefix}/envs/*/head.json"):
        problems.append(f"local.head_objects is {head!r}, not <bucket>/<prefix>/envs/*/head.json")
    denies = _denies(doc)

    def null_keys(statement: dict[str, Any]) -> set[str]:
        return {
            var for test, var, values in conditions_of(statement) if test == "Null" and values == ["true"]
        }

    records = [
        s
        for s in denies
        if actions_of(s) == {"s3:putobject"}
        and _strings(s.get("not_resources", [])) == ["${local.head_objects}"]
        and not s.get("resources")
        and null_keys(s) == {"s3:if-none-match"}
        and len(conditions_of(s)) == 1
    ]
    if not records:
        problems.append(
            "no deny of record writes without If-None-Match (s3:if-none-match) for every key but the head"
        )
    heads = [
        s
        for s in denies
        if actions_of(s) == {"s3:putobject"}
        and _strings(s.get("resources", [])) == ["${local.head_objects}"]
        and null_keys(s) == {"s3:if-match", "s3:if-none-match"}
        and len(conditions_of(s)) == 2
    ]
    if not heads:
        problems.append("no deny of head.json writes that are neither If-Match nor If-None-Match")
    deletes = {
        action
        for s in denies
        if not conditions_of(s) and _strings(s.get("resources", [])) == ["${aws_s3_bucket.ledger.arn}/*"]
        for action in actions_of(s)
    }
    missing = {"s3:deleteobject", "s3:deleteobjectversion", "s3:bypassgovernanceretention"} - deletes
    if missing:
        problems.append(f"records can be deleted or unlocked: no unconditional deny of {sorted(missing)}")
    own = [
        content
        for dynamic in _blocks(doc, "dynamic")
        for content in _blocks(dynamic.get("statement", {}), "content")
        if _first(content.get("effect")) == "Deny"
        and _strings(content.get("not_resources", []))
        == ["${aws_s3_bucket.ledger.arn}/${var.prefix}/envs/${statement.key}/*"]
        and any(c[:2] == ("ArnEquals", "aws:PrincipalArn") for c in conditions_of(content))
    ]
    if not own:
        problems.append("the bucket policy does not confine each environment's role to <prefix>/envs/<env>/")
    lock = config.resources.get(("aws_s3_bucket_object_lock_configuration", "ledger"))
    if lock is None or "${var.object_lock_mode}" not in str(lock) or "${var.retention_days}" not in str(lock):
        problems.append("no Object Lock configuration driven by object_lock_mode and retention_days")
    for variable in ("object_lock_mode", "retention_days"):
        if not _blocks(config.variables.get(variable, {}), "validation"):
            problems.append(f"variable {variable} is not validated")
    return problems


def rule_shared_ledger_locked(config: Config) -> list[str]:
    """The shared root's ledger holds production's records: Object Lock on, NONE refused, retention >= 1 year,
    and each environment's role confined to its records."""
    problems: list[str] = []
    call = config.modules.get("ledger", {})
    if _first(call.get("object_lock_mode")) != "${var.object_lock_mode}":
        problems.append("the shared ledger's object_lock_mode is not the validated root variable")
    if _first(call.get("environment_writers")) != "${local.environment_writers}":
        problems.append("the shared ledger does not confine the environments' roles (environment_writers)")
    mode = config.variables.get("object_lock_mode", {})
    checks = " ".join(str(_first(v.get("condition"))) for v in _blocks(mode, "validation"))
    if _first(mode.get("default")) not in {"GOVERNANCE", "COMPLIANCE"} or "NONE" in checks or not checks:
        problems.append(
            "production's ledger can be created without Object Lock (object_lock_mode allows NONE)"
        )
    retention = config.variables.get("retention_days", {})
    checks = " ".join(str(_first(v.get("condition"))) for v in _blocks(retention, "validation"))
    if "var.retention_days >= 365" not in checks:
        problems.append("retention_days is not validated to at least 365 days")
    if "${var.project}-${env}-deploy" not in str(config.locals.get("environment_writers", "")):
        problems.append("environment_writers does not name modules/environment's deploy roles")
    return problems


def rule_environment_uses_deploy_role(config: Config) -> list[str]:
    """The environment composition (hence production) gets a deploy role, never a build role."""
    role = config.modules.get("deploy_role")
    if role is None:
        return ["modules/environment has no deploy_role module"]
    problems = []
    if _first(role.get("kind")) != "deploy":
        problems.append(
            f"deploy_role has kind = {_first(role.get('kind'))!r}: environments must get deploy roles"
        )
    if _first(role.get("environment")) != "${var.environment}":
        problems.append("deploy_role is not bound to var.environment")
    return problems


def rule_ecr(config: Config) -> list[str]:
    problems: list[str] = []
    repos = config.of_type("aws_ecr_repository")
    if not repos:
        return ["no aws_ecr_repository"]
    for name, repo in repos.items():
        if _first(repo.get("image_tag_mutability")) != "IMMUTABLE":
            problems.append(f"{name}: image tags are not IMMUTABLE")
        scanning = _blocks(repo, "image_scanning_configuration")
        if not scanning or not _is_true(scanning[0].get("scan_on_push")):
            problems.append(f"{name}: scan on push is off")
        encryption = _blocks(repo, "encryption_configuration")
        if not encryption or _first(encryption[0].get("encryption_type")) != "KMS":
            problems.append(f"{name}: not KMS-encrypted")
    protect = config.locals.get("protect_promoted")
    rule = _first(protect) if protect else None
    if not isinstance(rule, dict):
        problems.append("no lifecycle rule protecting promoted images")
    else:
        selection = _first(rule.get("selection"))
        if _first(rule.get("rulePriority")) != 1:
            problems.append(
                "the promoted-image rule is not priority 1 (lower rules could expire promoted images)"
            )
        if not isinstance(selection, dict) or _strings(selection.get("tagPrefixList")) != [
            "${var.promoted_tag_prefix}"
        ]:
            problems.append("the priority-1 rule does not select the promoted tag prefix")
    prefixes = _strings(config.variables.get("build_tag_prefixes", {}).get("default", []))
    for tag in BUILD_TAG_EXAMPLES:
        if not any(tag.startswith(prefix) for prefix in prefixes):
            problems.append(f"build tag {tag} matches no build_tag_prefixes {prefixes}: builds never expire")
    if re.search(r'tagStatus\s*=\s*"any"', config.text):
        problems.append('a lifecycle rule with tagStatus "any" could expire promoted images')
    return problems


def rule_ecs_service(config: Config) -> list[str]:
    problems: list[str] = []
    services = config.of_type("aws_ecs_service")
    if not services:
        return ["no aws_ecs_service"]
    for name, service in services.items():
        breaker = _blocks(service, "deployment_circuit_breaker")
        if not breaker or not (_is_true(breaker[0].get("enable")) and _is_true(breaker[0].get("rollback"))):
            problems.append(f"{name}: deployment circuit breaker with rollback is missing")
        alarms = _blocks(service, "alarms")
        if not alarms or not (_is_true(alarms[0].get("enable")) and _is_true(alarms[0].get("rollback"))):
            problems.append(f"{name}: alarm-based rollback is missing")
        else:
            names = " ".join(_strings(alarms[0].get("alarm_names")))
            if "target_5xx" not in names or "unhealthy_hosts" not in names:
                problems.append(f"{name}: rollback alarms must include target_5xx and unhealthy_hosts")
        lifecycle = _blocks(service, "lifecycle")
        ignored = " ".join(_strings(lifecycle[0].get("ignore_changes"))) if lifecycle else ""
        if "task_definition" not in ignored or "desired_count" not in ignored:
            problems.append(f"{name}: lifecycle.ignore_changes must cover task_definition and desired_count")
    if str(config.locals.get("assign_public_ip")) != "${var.vpc_id == null}":
        problems.append("tasks must get no public IP when a VPC is given")
    return problems


def _contains_list(condition: str, subject: str) -> set[str] | None:
    """The quoted values of `contains([...], <subject>)` in a validation condition (None if absent)."""
    match = re.search(r"contains\(\[([^\]]*)\],\s*" + re.escape(subject) + r"\)", condition)
    return set(re.findall(r'"([^"]*)"', match.group(1))) if match else None


def _validations(config: Config, variable: str) -> list[str]:
    body = config.variables.get(variable, {})
    return [str(_first(v.get("condition"))) for v in _blocks(body, "validation")]


def _forward_targets(rule: dict[str, Any]) -> list[str]:
    return [
        str(_first(group.get("arn")))
        for action in _blocks(rule, "action")
        for forward in _blocks(action, "forward")
        for group in _blocks(forward, "target_group")
    ]


def rule_strategy_variables(config: Config) -> list[str]:
    """deployment_strategy defaults to ROLLING and accepts ECS's four strategies only; bake, canary and
    linear settings are validated; hook stages are exactly the stages ECS takes hooks at."""
    problems: list[str] = []
    strategy = config.variables.get("deployment_strategy")
    if strategy is None:
        return ["variable deployment_strategy is missing"]
    if _first(strategy.get("default")) != "ROLLING":
        problems.append("deployment_strategy must default to ROLLING")
    allowed = [
        _contains_list(c, "var.deployment_strategy") for c in _validations(config, "deployment_strategy")
    ]
    if set(ECS_STRATEGIES) not in allowed:
        problems.append(
            f"deployment_strategy is not validated as one of {list(ECS_STRATEGIES)} (found {allowed})"
        )
    for variable in (
        "bake_time_minutes",
        "canary_percent",
        "canary_bake_time_minutes",
        "linear_step_percent",
        "linear_step_bake_time_minutes",
        "test_listener_port",
    ):
        if not _validations(config, variable):
            problems.append(f"variable {variable} is not validated")
    stage_lists = [
        _contains_list(c, "stage") for c in _validations(config, "lifecycle_hooks") if "lifecycle_stages" in c
    ]
    if set(ECS_HOOK_STAGES) not in stage_lists:
        problems.append(f"lifecycle_hooks stages are not validated against ECS's list (found {stage_lists})")
    types = [_contains_list(c, "hook.target_type") for c in _validations(config, "lifecycle_hooks")]
    if {"AWS_LAMBDA", "PAUSE"} not in types:
        problems.append("lifecycle_hooks target_type is not validated as AWS_LAMBDA or PAUSE")
    return problems


def rule_traffic_shift_wiring(config: Config) -> list[str]:
    """A traffic-shifting strategy gets everything ECS needs (second target group, test listener and rule,
    production listener rule, advanced_configuration, ECS's load-balancer role, rollback alarms on both
    target groups); ROLLING gets none of it."""
    problems: list[str] = []
    if str(config.locals.get("traffic_shift")) != '${var.deployment_strategy != "ROLLING"}':
        problems.append('local.traffic_shift is not var.deployment_strategy != "ROLLING"')
    for rtype, name in TRAFFIC_SHIFT_RESOURCES:
        body = config.resources.get((rtype, name))
        if body is None:
            problems.append(f"{rtype}.{name} is missing")
        elif _first(body.get("count")) != "${local.traffic_shift ? 1 : 0}":
            problems.append(f"{rtype}.{name}: count is not local.traffic_shift ? 1 : 0")
    service = config.resources.get(("aws_ecs_service", "this"), {})
    deployment = _blocks(service, "deployment_configuration")
    if not deployment or _first(deployment[0].get("strategy")) != "${var.deployment_strategy}":
        problems.append("the service's deployment_configuration.strategy is not var.deployment_strategy")
    elif "var.bake_time_minutes" not in str(deployment[0].get("bake_time_in_minutes")):
        problems.append("the service's bake time is not var.bake_time_minutes")
    balancers = _blocks(service, "load_balancer")
    advanced = [
        dynamic["advanced_configuration"]
        for lb in balancers
        for dynamic in _blocks(lb, "dynamic")
        if "advanced_configuration" in dynamic
    ]
    expected = {
        "alternate_target_group_arn": "${aws_lb_target_group.alternate[0].arn}",
        "production_listener_rule": "${aws_lb_listener_rule.production[0].arn}",
        "test_listener_rule": "${aws_lb_listener_rule.test[0].arn}",
        "role_arn": "${aws_iam_role.load_balancers[0].arn}",
    }
    if not advanced:
        problems.append("the service's load_balancer has no advanced_configuration for traffic shifting")
    for block in advanced:
        if _first(block.get("for_each")) != "${local.traffic_shift ? [1] : []}":
            problems.append("advanced_configuration is not conditional on local.traffic_shift")
        contents = _blocks(block, "content")
        got = {key: _first(value) for key, value in (contents[0] if contents else {}).items()}
        if got != expected:
            problems.append(f"advanced_configuration wires {got}, expected {expected}")
    both = ["${aws_lb_target_group.this.arn}", "${aws_lb_target_group.alternate[0].arn}"]
    listeners = {
        "production": "${local.production_listener}",
        "test": "${aws_lb_listener.test[0].arn}",
    }
    for name, listener in listeners.items():
        rule = config.resources.get(("aws_lb_listener_rule", name), {})
        if _first(rule.get("listener_arn")) != listener:
            problems.append(f"listener rule {name} is not on {listener}")
        if _forward_targets(rule) != both:
            problems.append(f"listener rule {name} does not forward over both target groups")
        lifecycle = _blocks(rule, "lifecycle")
        if "action" not in " ".join(_strings(lifecycle[0].get("ignore_changes")) if lifecycle else []):
            problems.append(
                f"listener rule {name}: Terraform would reset the weights ECS moves (ignore_changes)"
            )
    trust = _policy_doc(config, "ecs_service_trust") or {}
    principals = [
        identifier
        for statement in statements(trust)
        for block in _blocks(statement, "principals")
        for identifier in _strings(block.get("identifiers"))
    ]
    if principals != ["ecs.amazonaws.com"]:
        problems.append(f"ECS's load-balancer role trusts {principals}, not ecs.amazonaws.com only")
    attachment = config.resources.get(("aws_iam_role_policy_attachment", "load_balancers"), {})
    if not str(_first(attachment.get("policy_arn"))).endswith(
        ":iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
    ):
        problems.append("ECS's load-balancer role lacks AmazonECSInfrastructureRolePolicyForLoadBalancers")
    alarms = _blocks(service, "alarms")
    names = " ".join(_strings(alarms[0].get("alarm_names"))) if alarms else ""
    for alarm in ("target_5xx_alternate", "unhealthy_hosts_alternate"):
        if alarm not in names:
            problems.append(f"the service does not roll back on {alarm} (new revision in the other group)")
    return problems


def rule_test_listener_not_public(config: Config) -> list[str]:
    """The test listener serves unverified revisions: reachable only from test_listener_cidrs (never /0) and
    test_listener_source_security_group_ids, never through ingress_cidrs."""
    problems: list[str] = []
    listener = config.resources.get(("aws_lb_listener", "test"), {})
    if _first(listener.get("port")) != "${local.test_port}":
        problems.append("the test listener does not listen on local.test_port")
    allowed_sources = {
        "${local.traffic_shift ? toset(var.test_listener_cidrs) : toset([])}",
        "${local.traffic_shift ? toset(var.test_listener_source_security_group_ids) : toset([])}",
    }
    test_rules = {
        name: rule
        for name, rule in config.of_type("aws_vpc_security_group_ingress_rule").items()
        if "local.test_port" in str(rule.get("from_port")) or "local.test_port" in str(rule.get("to_port"))
    }
    if not test_rules:
        problems.append("no ingress rule for the test listener")
    for name, rule in test_rules.items():
        if _first(rule.get("for_each")) not in allowed_sources:
            problems.append(f"{name}: the test port is opened to {_first(rule.get('for_each'))}")
        if str(_first(rule.get("cidr_ipv4", ""))).endswith("/0"):
            problems.append(f"{name}: the test port is open to {_first(rule.get('cidr_ipv4'))}")
    for name, rule in config.of_type("aws_vpc_security_group_ingress_rule").items():
        if name not in test_rules and "test_listener" in str(rule.get("for_each")):
            problems.append(f"{name}: test listener sources opened to a port other than the test port")
    cidrs = config.variables.get("test_listener_cidrs", {})
    if any(str(c).endswith("/0") for c in _strings(cidrs.get("default", []))):
        problems.append("test_listener_cidrs defaults to a /0 block")
    if not any('!endswith(cidr, "/0")' in c for c in _validations(config, "test_listener_cidrs")):
        problems.append("test_listener_cidrs does not refuse /0 blocks (validation)")
    return problems


def rule_alarms(config: Config) -> list[str]:
    problems: list[str] = []
    alarms = config.of_type("aws_cloudwatch_metric_alarm")
    metrics: set[str] = set()
    for name, alarm in alarms.items():
        if not alarm.get("ok_actions") or not alarm.get("alarm_actions"):
            problems.append(f"{name}: needs both alarm_actions and ok_actions")
        if _first(alarm.get("treat_missing_data")) not in {"notBreaching", "breaching", "ignore", "missing"}:
            problems.append(f"{name}: treat_missing_data is not set deliberately")
        if alarm.get("metric_name"):
            metrics.add(str(_first(alarm["metric_name"])))
        for query in _blocks(alarm, "metric_query"):
            for metric in _blocks(query, "metric"):
                metrics.add(str(_first(metric.get("metric_name"))))
    missing = REQUIRED_ALARM_METRICS - metrics
    if missing:
        problems.append(f"alarms missing for {sorted(missing)}")
    return problems


def rule_fast_rollout_defaults(config: Config) -> list[str]:
    problems: list[str] = []
    for variable in ("deregistration_delay", "health_check_interval", "healthy_threshold"):
        body = config.variables.get(variable)
        if body is None:
            problems.append(f"variable {variable} is missing")
            continue
        if not _blocks(body, "validation"):
            problems.append(f"variable {variable} is not validated")
    delay = config.variables.get("deregistration_delay", {}).get("default")
    if delay is None or int(_first(delay)) >= 300:
        problems.append("deregistration_delay default must be well below AWS's 300 s")
    return problems


def rule_private_bucket(config: Config, bucket: str) -> list[str]:
    problems: list[str] = []
    if ("aws_s3_bucket", bucket) not in config.resources:
        return [f"no aws_s3_bucket.{bucket}"]
    versioning = config.resources.get(("aws_s3_bucket_versioning", bucket))
    if (
        not versioning
        or _first(_blocks(versioning, "versioning_configuration")[0].get("status")) != "Enabled"
    ):
        problems.append(f"{bucket}: versioning is not Enabled")
    block = config.resources.get(("aws_s3_bucket_public_access_block", bucket), {})
    for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
        if not _is_true(block.get(flag)):
            problems.append(f"{bucket}: {flag} is not true")
    sse = config.resources.get(("aws_s3_bucket_server_side_encryption_configuration", bucket))
    if not sse or "aws:kms" not in str(sse):
        problems.append(f"{bucket}: no SSE-KMS default encryption")
    doc = _policy_doc(config, bucket)
    tls = [
        s
        for s in statements(doc or {})
        if _first(s.get("effect")) == "Deny" and any(c[1] == "aws:SecureTransport" for c in conditions_of(s))
    ]
    if not tls:
        problems.append(f"{bucket}: no TLS-only (aws:SecureTransport) deny statement")
    return problems


def rule_events_queue(config: Config) -> list[str]:
    problems: list[str] = []
    queue = config.resources.get(("aws_sqs_queue", "events"))
    if queue is None:
        return ["no events queue"]
    if not (_is_true(queue.get("sqs_managed_sse_enabled")) or queue.get("kms_master_key_id")):
        problems.append("events queue is not encrypted")
    if "deadLetterTargetArn" not in str(queue.get("redrive_policy")):
        problems.append("events queue has no dead-letter queue")
    retention = config.variables.get("message_retention_seconds", {}).get("default")
    if retention is None or int(_first(retention)) > 86400:
        problems.append("events queue retention must be short (<= 1 day)")
    doc = _policy_doc(config, "events_queue") or {}
    for statement in statements(doc):
        if _first(statement.get("effect", "Allow")) == "Deny":
            continue
        principals = _blocks(statement, "principals")
        identifiers = _strings(principals[0].get("identifiers")) if principals else []
        if identifiers != ["events.amazonaws.com"]:
            problems.append(f"queue policy allows {identifiers}, not only events.amazonaws.com")
        if not any(c[0] == "ArnEquals" and c[1] == "aws:SourceArn" for c in conditions_of(statement)):
            problems.append("queue policy is not limited to the rules (ArnEquals aws:SourceArn)")
    deployment = config.locals.get("deployment_events_pattern", {})
    if deployment.get("resources") != ["${var.service_arn}"]:
        problems.append("deployment events rule is not limited to the service")
    stopped = config.locals.get("stopped_tasks_pattern", {}).get("detail", {})
    if stopped.get("group") != ["service:${var.service_name}"] or stopped.get("lastStatus") != ["STOPPED"]:
        problems.append("task events rule is not limited to the service's STOPPED tasks")
    return problems


def rule_hygiene(config: Config, *, module: bool) -> list[str]:
    """Files, descriptions, types, required_version."""
    problems: list[str] = []
    expected = ["main.tf", "variables.tf", "outputs.tf", "versions.tf"] + (["README.md"] if module else [])
    for name in expected:
        if not (config.path / name).is_file():
            problems.append(f"{config.path.name}: {name} is missing")
    for name, body in config.variables.items():
        if not str(_first(body.get("description", ""))).strip():
            problems.append(f"variable {name} has no description")
        if "type" not in body:
            problems.append(f"variable {name} has no type")
        if module and re.search(r"_arns?$", name) and not _blocks(body, "validation"):
            problems.append(f"variable {name} takes an ARN but is not validated")
    for name, body in config.outputs.items():
        if not str(_first(body.get("description", ""))).strip():
            problems.append(f"output {name} has no description")
    if not any("required_version" in block for block in config.terraform):
        problems.append(f"{config.path.name}: no required_version")
    return problems


def rule_wiring(config: Config, modules: dict[Path, Config]) -> list[str]:
    """var.X references are declared; module calls pass declared inputs, all required ones, real outputs."""
    problems: list[str] = []
    for var in sorted(set(re.findall(r"\bvar\.([A-Za-z_][A-Za-z0-9_]*)", config.text))):
        if var not in config.variables:
            problems.append(f"var.{var} is used but not declared")
    for local in sorted(set(re.findall(r"\blocal\.([A-Za-z_][A-Za-z0-9_]*)", config.text))):
        if local not in config.locals:
            problems.append(f"local.{local} is used but not defined")
    for call_name, call in config.modules.items():
        source = (config.path / str(_first(call.get("source")))).resolve()
        callee = modules.get(source)
        if callee is None:
            problems.append(f"module {call_name}: source {source} is not a known module")
            continue
        passed = {
            key
            for key in call
            if key not in {"source", "version", "count", "for_each", "depends_on", "providers"}
        }
        for unknown in sorted(passed - set(callee.variables)):
            problems.append(f"module {call_name}: passes undeclared input {unknown}")
        required = {name for name, body in callee.variables.items() if "default" not in body}
        for missing in sorted(required - passed):
            problems.append(f"module {call_name}: required input {missing} not passed")
        for output in sorted(
            set(re.findall(rf"\bmodule\.{call_name}\.([A-Za-z_][A-Za-z0-9_]*)", config.text))
        ):
            if output not in callee.outputs:
                problems.append(f"module.{call_name}.{output} is not an output of {source.name}")
    return problems


def rule_backend(directory: Path) -> list[str]:
    """Partial S3 backend with lockfile locking; nothing tied to one account or person."""
    problems: list[str] = []
    backend = directory / "backend.hcl"
    if not backend.is_file():
        return [f"{directory.name}: backend.hcl missing"]
    settings = parse_text(backend.read_text(encoding="utf-8"))
    if not _is_true(settings.get("use_lockfile")):
        problems.append(f"{directory.name}: backend.hcl does not enable use_lockfile")
    if "bucket" in settings or "profile" in settings or "role_arn" in settings:
        problems.append(f"{directory.name}: backend.hcl hard-codes bucket/profile/role")
    everything = "\n".join(p.read_text(encoding="utf-8") for p in directory.glob("*") if p.is_file())
    if re.search(r"(?<![0-9])[0-9]{12}(?![0-9])", everything):
        problems.append(f"{directory.name}: an AWS account id is hard-coded")
    if 'backend "s3" {}' not in everything:
        problems.append(f"{directory.name}: backend is not a partial (empty) s3 block")
    return problems
