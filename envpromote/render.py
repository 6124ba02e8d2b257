"""Render an environment's task definition: Jinja2 (StrictUndefined) -> JSON -> botocore's own input model.

Pure apart from reading the template file: no AWS calls. The validation uses the RegisterTaskDefinition input
shape that botocore ships, so there is no hand-written schema to drift from the API.
"""

from __future__ import annotations

import difflib
import json
import sys
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import jinja2.nodes
from botocore.exceptions import ParamValidationError
from botocore.validate import ParamValidator
from jinja2 import meta

from envpromote.config import Config, Environment
from envpromote.errors import BadInput
from envpromote.fargate import DEFAULT_CPU, DEFAULT_MEMORY
from envpromote.image import ImageRef

DEFAULT_STOP_TIMEOUT = 30


def template_values(
    config: Config, env: Environment, image: ImageRef, *, source_commit: str = "unknown"
) -> dict[str, Any]:
    """Everything the template may use. Environments differ only through `env.taskdef`."""
    taskdef = dict(env.taskdef)
    return {
        "project_name": config.project_name,
        "environment": env.name,
        "family": env.family,
        "container": env.container,
        "region": env.region,
        "image_uri": image.uri,
        "digest": image.digest,
        "source_commit": source_commit,
        "execution_role_arn": env.execution_role_arn,
        "task_role_arn": env.task_role_arn,
        "cpu": taskdef.get("cpu", DEFAULT_CPU),
        "memory": taskdef.get("memory", DEFAULT_MEMORY),
        "port": taskdef.get("port", 8080),
        "log_group": taskdef.get("log_group", f"/ecs/{env.family}"),
        "log_level": taskdef.get("log_level", "info"),
        "stop_timeout": taskdef.get("stop_timeout", DEFAULT_STOP_TIMEOUT),
        "env": dict(taskdef.get("env", {})),
        "secrets": dict(taskdef.get("secrets", {})),
    }


def render_task_definition(template_path: Path, values: Mapping[str, Any]) -> dict[str, Any]:
    """Render, parse and validate; every failure is a BadInput that names the template line or field."""
    try:
        source = template_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(
            f"Task-definition template {template_path} not found.",
            fix="Set [project] template in envpromote.toml to an existing file.",
        ) from None
    environment = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - the output is JSON; values go through tojson, not HTML escaping
        keep_trailing_newline=True,
    )
    name = template_path.name
    try:
        parsed = environment.parse(source, name=name)
    except jinja2.TemplateSyntaxError as exc:
        raise BadInput(
            f"Template {name} line {exc.lineno}: syntax error: {exc.message}.",
            fix="Correct the Jinja syntax on that line.",
        ) from None
    _refuse_undefined_names(parsed, values, name)
    try:
        template = environment.from_string(parsed)
        template.name = name
        text = template.render(**values)
    except jinja2.UndefinedError as exc:
        line = _template_line_from_traceback()
        where = f" line {line}" if line else ""
        raise BadInput(
            f"Template {name}{where}: {exc.message}.",
            fix=f"Use only defined values ({', '.join(sorted(values))}) or add it to [environments.*.taskdef].",
        ) from None
    except (
        TypeError,
        ValueError,
        ArithmeticError,
        LookupError,
    ) as exc:  # a filter or an operation on a value
        line = _template_line_from_traceback()
        where = f" line {line}" if line else ""
        raise BadInput(
            f"Template {name}{where}: {type(exc).__name__}: {exc}.",
            fix="Correct the expression on that line.",
        ) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"Template {name} renders invalid JSON at rendered line {exc.lineno} column {exc.colno}: {exc.msg}.",
            fix="Check commas and quoting near that line; insert values with '| tojson'.",
        ) from None
    if not isinstance(document, dict):
        raise BadInput(f"Template {name} must render a JSON object.", fix="Wrap the definition in {...}.")
    validate_task_definition(document, template_name=name)
    return document


def _refuse_undefined_names(parsed: jinja2.nodes.Template, values: Mapping[str, Any], name: str) -> None:
    """A name the template uses that no value defines is refused before rendering, with its line.

    Checked on the parsed template rather than caught while rendering: ``{{ log_grup | tojson }}`` would
    otherwise fail inside the filter as a TypeError about StrictUndefined, without the name.
    """
    undefined = meta.find_undeclared_variables(parsed) - set(values)
    if not undefined:
        return
    first = min(
        (node for node in parsed.find_all(jinja2.nodes.Name) if node.name in undefined),
        key=lambda node: node.lineno,
    )
    hint = difflib.get_close_matches(first.name, list(values), n=1)
    others = sorted(undefined - {first.name})
    more = f" (also undefined: {', '.join(others)})" if others else ""
    raise BadInput(
        f"Template {name} line {first.lineno}: {first.name!r} is undefined{more}.",
        fix=(f"Did you mean {hint[0]!r}? " if hint else "")
        + f"Use only defined values ({', '.join(sorted(values))}) or add it to [environments.*.taskdef].",
    )


def _template_line_from_traceback() -> int | None:
    """Jinja rewrites tracebacks so template frames carry template line numbers; find the innermost one."""
    tb = sys.exc_info()[2]
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


@lru_cache(maxsize=1)
def _register_shape() -> Any:
    # The process's one botocore loader: ECS's model is parsed once (the clients parse it too), not twice.
    from envpromote.aws import service_model

    return service_model("ecs").operation_model("RegisterTaskDefinition").input_shape


def validate_task_definition(document: Mapping[str, Any], *, template_name: str = "task definition") -> None:
    """Validate against botocore's RegisterTaskDefinition input shape (types, required fields, unknown keys)."""
    report = ParamValidator().validate(dict(document), _register_shape())
    if report.has_errors():
        errors = ParamValidationError(report=report.generate_report()).kwargs["report"]
        first_lines = "; ".join(line.strip() for line in errors.splitlines() if line.strip())[:400]
        raise BadInput(
            f"{template_name} is rejected by the ECS RegisterTaskDefinition model: {first_lines}.",
            fix="Correct the named field in the template or in [environments.*.taskdef].",
        )
    containers = document.get("containerDefinitions") or []
    if not containers:
        raise BadInput(
            f"{template_name} has no containerDefinitions.", fix="Declare the application container."
        )
    for container in containers:
        image = container.get("image", "")
        if "@sha256:" not in image:
            raise BadInput(
                f"{template_name}: container {container.get('name')!r} image {image!r} is not pinned by digest.",
                fix="Use {{ image_uri }} for the image.",
            )


def container_image(document: Mapping[str, Any], container: str) -> str | None:
    for definition in document.get("containerDefinitions", []):
        if definition.get("name") == container:
            image = definition.get("image")
            return image if isinstance(image, str) else None
    return None


def require_image(document: Mapping[str, Any], container: str, image_uri: str, template_name: str) -> None:
    """The container we watch must run exactly the digest being released, or the record would lie."""
    actual = container_image(document, container)
    if actual != image_uri:
        raise BadInput(
            f"Template {template_name}: container {container!r} runs {actual!r}, not the released image {image_uri}.",
            fix="Set that container's image to {{ image_uri }} (and its name to the environment's container).",
        )
