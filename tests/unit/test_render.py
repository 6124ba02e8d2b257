"""Task-definition rendering: one template, StrictUndefined, botocore's own model as the validator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envpromote.config import load_config
from envpromote.errors import BadInput
from envpromote.image import ImageRef
from envpromote.render import (
    container_image,
    render_task_definition,
    template_values,
    validate_task_definition,
)

ROOT = Path(__file__).resolve().parents[2]
CFG = load_config(ROOT / "envpromote.toml")
IMAGE = ImageRef("123456789012.dkr.ecr.us-east-1.amazonaws.com", "envpromote-app", "sha256:" + "c" * 64)


def values(env_name: str = "staging", **overrides: object) -> dict:
    base = template_values(CFG, CFG.env(env_name), IMAGE, source_commit="abc123")
    base.update(overrides)
    return base


@pytest.mark.parametrize("env", ["dev", "staging", "production"])
def test_every_environment_renders_a_valid_definition(env: str) -> None:
    doc = render_task_definition(CFG.template, values(env))
    assert doc["family"] == CFG.env(env).family
    assert container_image(doc, "web") == IMAGE.uri
    names = {e["name"]: e["value"] for e in doc["containerDefinitions"][0]["environment"]}
    assert names["APP_ENVIRONMENT"] == env
    assert names["APP_IMAGE_DIGEST"] == IMAGE.digest
    assert names["APP_SOURCE_COMMIT"] == "abc123"


def test_environments_differ_only_by_configured_values() -> None:
    staging = render_task_definition(CFG.template, values("staging"))
    production = render_task_definition(CFG.template, values("production"))
    assert staging["containerDefinitions"][0]["image"] == production["containerDefinitions"][0]["image"]
    assert (staging["cpu"], production["cpu"]) == ("256", "512")


def test_quotes_and_unicode_in_values_cannot_break_json() -> None:
    doc = render_task_definition(CFG.template, values(env={"GREETING": 'say "hi"; $(rm -rf /) — ünï'}))
    env = {e["name"]: e["value"] for e in doc["containerDefinitions"][0]["environment"]}
    assert env["GREETING"] == 'say "hi"; $(rm -rf /) — ünï'


def test_undefined_variable_names_the_line(tmp_path: Path) -> None:
    template = tmp_path / "t.json.j2"
    template.write_text('{\n  "family": {{ family | tojson }},\n  "cpu": {{ cpus }}\n}\n')
    with pytest.raises(BadInput, match=r"t.json.j2 line 3: 'cpus' is undefined"):
        render_task_definition(template, values())


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    template = tmp_path / "t.json.j2"
    template.write_text('{\n  "family": {{ family | tojson }\n}\n')
    with pytest.raises(BadInput, match=r"line 2: syntax error"):
        render_task_definition(template, values())


def test_invalid_json_is_reported(tmp_path: Path) -> None:
    template = tmp_path / "t.json.j2"
    template.write_text('{"family": {{ family | tojson }},}')
    with pytest.raises(BadInput, match="renders invalid JSON"):
        render_task_definition(template, values())


def test_botocore_model_rejects_wrong_types_and_unknown_fields() -> None:
    doc = render_task_definition(CFG.template, values())
    doc["cpu"] = 256
    with pytest.raises(BadInput, match="RegisterTaskDefinition model") as info:
        validate_task_definition(doc)
    assert "cpu" in info.value.message
    doc = render_task_definition(CFG.template, values())
    doc["containerDefinitions"][0]["colour"] = "blue"
    with pytest.raises(BadInput, match="colour"):
        validate_task_definition(doc)


def test_image_must_be_pinned_by_digest() -> None:
    doc = json.loads(json.dumps(render_task_definition(CFG.template, values())))
    doc["containerDefinitions"][0]["image"] = "nginx:latest"
    with pytest.raises(BadInput, match="not pinned by digest"):
        validate_task_definition(doc)


def test_missing_template_file() -> None:
    with pytest.raises(BadInput, match="not found"):
        render_task_definition(ROOT / "templates" / "nope.j2", values())


def test_undefined_name_inside_a_filter_is_bad_input_naming_it(tmp_path: Path) -> None:
    """`{{ log_grup | tojson }}` used to escape as exit 1 `TypeError: Object of type StrictUndefined...`."""
    template = tmp_path / "typo.json.j2"
    template.write_text('{\n  "family": {{ family | tojson }},\n  "logGroup": {{ log_grup | tojson }}\n}\n')
    with pytest.raises(BadInput, match=r"typo.json.j2 line 3: 'log_grup' is undefined") as info:
        render_task_definition(template, values())
    assert info.value.exit_code == 2
    assert "Did you mean 'log_group'?" in (info.value.fix or "")


def test_an_error_inside_an_expression_is_bad_input_with_the_line(tmp_path: Path) -> None:
    template = tmp_path / "bad.json.j2"
    template.write_text('{\n  "family": {{ family | tojson }},\n  "cpu": {{ (port / 0) | tojson }}\n}\n')
    with pytest.raises(BadInput, match=r"bad.json.j2 line 3: ZeroDivisionError") as info:
        render_task_definition(template, values())
    assert info.value.exit_code == 2
