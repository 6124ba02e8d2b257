"""Notification targets of an environment (``notify = [...]`` in envpromote.toml): parsed and validated, pure.

Forms::

  slack:env:<VARIABLE>                 a Slack incoming webhook whose URL is in an environment variable
  slack:secretsmanager:<secret ARN>    ... whose URL is a Secrets Manager secret (plain, or JSON {"url": ...})
  sns:<topic ARN>                      an SNS topic (the sns-topic module's; AWS Chatbot relays it to Slack)

A webhook URL is a secret: it is never accepted in the file itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from envpromote.errors import ConfigError

MAX_TARGETS = 10
_ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_SECRET_ARN = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$"
)
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,256})(\.fifo)?$")
_URLISH = re.compile(r"(?i)(^[a-z][a-z0-9+.-]*://)|hooks\.slack\.com")


@dataclass(frozen=True)
class SlackTarget:
    source: str  # "env" | "secretsmanager"
    ref: str  # the variable name or the secret ARN (never the URL)

    def describe(self) -> str:
        return f"slack:{self.source}:{self.ref}"


@dataclass(frozen=True)
class SnsTarget:
    topic_arn: str

    @property
    def region(self) -> str:
        match = _TOPIC_ARN.match(self.topic_arn)
        return match.group(1) if match else ""

    def describe(self) -> str:
        return f"sns:{self.topic_arn}"


Target = SlackTarget | SnsTarget


def _parse_one(value: str) -> tuple[Target | None, str | None]:
    if _URLISH.search(value):
        return None, (
            "looks like a webhook URL; URLs are secrets and never belong in the file: put it in an environment "
            "variable and write 'slack:env:<VARIABLE>', or in Secrets Manager and write "
            "'slack:secretsmanager:<secret ARN>'"
        )
    kind, _, rest = value.partition(":")
    if kind == "slack":
        source, _, ref = rest.partition(":")
        if source == "env":
            if not _ENV_VAR.match(ref):
                return None, f"'{ref[:60]}' is not an environment variable name (letters, digits, _)"
            return SlackTarget("env", ref), None
        if source == "secretsmanager":
            if not _SECRET_ARN.match(ref):
                return (
                    None,
                    "expected 'slack:secretsmanager:arn:aws:secretsmanager:<region>:<account>:secret:<name>'",
                )
            return SlackTarget("secretsmanager", ref), None
        return None, "a Slack target is 'slack:env:<VARIABLE>' or 'slack:secretsmanager:<secret ARN>'"
    if kind == "sns":
        if not _TOPIC_ARN.match(rest):
            return None, "expected 'sns:arn:aws:sns:<region>:<account>:<topic name>'"
        return SnsTarget(rest), None
    return None, "a target starts with 'slack:' or 'sns:'"


def target_problems(values: Any, key: str) -> tuple[tuple[Target, ...], list[str]]:
    """The targets in `values` and every problem with its key path (``environments.dev.notify[1]: ...``)."""
    if values is None:
        return (), []
    if not isinstance(values, list):
        return (), [f"{key}: must be a list of strings, got {type(values).__name__}"]
    if len(values) > MAX_TARGETS:
        return (), [f"{key}: at most {MAX_TARGETS} targets, got {len(values)}"]
    targets: list[Target] = []
    problems: list[str] = []
    for index, value in enumerate(values):
        where = f"{key}[{index}]"
        if not isinstance(value, str):
            problems.append(f"{where}: must be a string, got {type(value).__name__}")
            continue
        target, problem = _parse_one(value.strip())
        if problem is not None:
            problems.append(f"{where}: {problem}")
        elif target is not None:
            if target in targets:
                problems.append(f"{where}: duplicate of an earlier target ({target.describe()})")
            else:
                targets.append(target)
    return tuple(targets), problems


def parse_targets(values: Any, key: str) -> tuple[Target, ...]:
    """Parse ``notify = [...]``; raise ConfigError (a BadInput, exit 2) naming every bad entry by key path."""
    targets, problems = target_problems(values, key)
    if problems:
        raise ConfigError(
            f"{len(problems)} problem(s) in {key}: {problems[0]}",
            reasons=problems,
            fix="Use 'slack:env:<VARIABLE>', 'slack:secretsmanager:<secret ARN>' or 'sns:<topic ARN>'.",
        )
    return targets
