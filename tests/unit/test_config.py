"""Config loading: the shipped file is valid; every problem is reported with its key path."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envpromote.config import MAX_CONFIG_BYTES, load_config, parse_config
from envpromote.errors import BadInput, ConfigError

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "envpromote.toml"


def shipped() -> dict:
    return tomllib.loads(SHIPPED.read_text())


def test_shipped_config_loads() -> None:
    cfg = load_config(SHIPPED)
    assert cfg.chain == ("dev", "staging", "production")
    assert cfg.env("staging").upstream == "dev"
    assert cfg.env("production").approval_required
    assert cfg.env("dev").upstream is None
    assert cfg.downstream_of("dev").name == "staging"


def test_env_var_selects_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "other.toml"
    copy.write_text(SHIPPED.read_text())
    monkeypatch.setenv("ENVPROMOTE_CONFIG", str(copy))
    assert load_config().path == copy


def test_unknown_environment_lists_valid_ones() -> None:
    cfg = load_config(SHIPPED)
    with pytest.raises(BadInput, match="Unknown environment 'qa'") as info:
        cfg.env("qa")
    assert "dev, staging, production" in (info.value.fix or "")


def _problems(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, SHIPPED)
    return info.value.problems


def test_every_problem_is_reported_with_its_key_path() -> None:
    data = shipped()
    data["environments"]["staging"]["soak_seconds"] = -5
    data["environments"]["production"]["region"] = "mars-1"
    data["environments"]["dev"]["colour"] = "blue"
    data["ledger"]["object_lock"] = "forever"
    problems = _problems(data)
    assert any(p.startswith("environments.staging.soak_seconds:") for p in problems)
    assert any(p.startswith("environments.production.region:") for p in problems)
    assert any(p.startswith("environments.dev.colour: unknown key") for p in problems)
    assert any(p.startswith("ledger.object_lock:") for p in problems)
    assert len(problems) == 4


def test_chain_and_environments_must_agree() -> None:
    data = shipped()
    data["chain"]["order"] = ["dev", "qa", "production"]
    problems = _problems(data)
    assert "environments.qa: missing table for an environment listed in chain.order" in problems
    assert "environments.staging: not listed in chain.order" in problems


def test_production_cannot_allow_unscanned() -> None:
    data = shipped()
    data["environments"]["production"]["scan"]["allow_unscanned"] = True
    assert any("allow_unscanned" in p for p in _problems(data))


def test_empty_and_oversized_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("  \n")
    with pytest.raises(ConfigError, match="is empty"):
        load_config(empty)
    big = tmp_path / "big.toml"
    big.write_text("# x\n" * (MAX_CONFIG_BYTES // 3))
    with pytest.raises(ConfigError, match="over the"):
        load_config(big)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[project\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["region", "cluster", "soak_seconds", "desired_count", "approval", "execution_role_arn"]),
    st.one_of(st.integers(), st.text(max_size=20), st.booleans(), st.lists(st.integers(), max_size=2)),
)
def test_loader_either_accepts_or_names_the_key(key: str, value: object) -> None:
    data = shipped()
    data["environments"]["staging"][key] = value
    try:
        cfg = parse_config(data, SHIPPED)
    except ConfigError as exc:
        problems = exc.problems
    else:
        assert cfg.env("staging").name == "staging"
        return
    assert any(p.startswith(f"environments.staging.{key}:") for p in problems), problems


def test_fargate_cpu_must_be_a_fargate_size_and_the_message_names_the_allowed_values() -> None:
    data = shipped()
    data["environments"]["staging"]["taskdef"]["cpu"] = "300"
    with pytest.raises(ConfigError) as info:
        parse_config(data, SHIPPED)
    assert info.value.exit_code == 2
    assert info.value.problems == [
        "environments.staging.taskdef.cpu: '300' is not a Fargate CPU size "
        "(allowed: 256, 512, 1024, 2048, 4096, 8192, 16384)"
    ]


@pytest.mark.parametrize(
    ("cpu", "memory", "allowed"),
    [
        ("256", "4096", "(allowed: 512, 1024, 2048)"),
        ("1024", "1024", "(allowed: 2048-8192 in steps of 1024)"),
        (8192, 20000, "(allowed: 16384-61440 in steps of 4096)"),
    ],
)
def test_fargate_memory_must_fit_the_cpu(cpu: object, memory: object, allowed: str) -> None:
    data = shipped()
    data["environments"]["production"]["taskdef"].update(cpu=cpu, memory=memory)
    [problem] = _problems(data)
    assert problem.startswith("environments.production.taskdef.memory:")
    assert problem.endswith(allowed)


def test_valid_fargate_pairs_load() -> None:
    data = shipped()
    data["environments"]["production"]["taskdef"].update(cpu="4096", memory="30720")
    data["environments"]["staging"]["taskdef"].update(cpu=2048, memory=4096)
    cfg = parse_config(data, SHIPPED)
    assert cfg.env("production").taskdef["memory"] == "30720"


def test_schema_problems_are_one_line_each_with_the_key_path() -> None:
    data = shipped()
    del data["lock"]
    del data["environments"]["production"]["region"]
    data["environments"]["dev"]["taskdef"]["env"]["1BAD"] = "x"
    data["environments"]["dev"]["desired_count"] = True
    assert sorted(_problems(data)) == [
        "environments.dev.desired_count: must be an integer, got boolean",
        "environments.dev.taskdef.env.1BAD: invalid name (an environment variable name)",
        "environments.production.region: missing",
        "lock: missing table",
    ]


def test_production_is_one_rule() -> None:
    from envpromote.config import is_production

    cfg = load_config(SHIPPED)
    assert [env.name for env in cfg.environments if env.is_production] == ["production"]
    assert is_production("prod")
    assert is_production("live", approval_required=True)
    assert not is_production("staging")


def test_paths_resolve_against_the_config_folder_whatever_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = shipped()
    data["build"] = {"app_dir": "service"}
    data["infra"] = {"dir": "ops/terraform"}
    data["project"]["template"] = "deploy/task.json.j2"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = parse_config(data, tmp_path / "team" / "envpromote.toml")
    assert cfg.app_dir == tmp_path / "team" / "service"
    assert cfg.infra_dir == tmp_path / "team" / "ops" / "terraform"
    assert cfg.template == tmp_path / "team" / "deploy" / "task.json.j2"


def test_app_and_infra_dirs_default_to_app_and_infra_next_to_the_config() -> None:
    cfg = load_config(SHIPPED)
    assert cfg.app_dir == ROOT / "app"
    assert cfg.infra_dir == ROOT / "infra"


@pytest.mark.parametrize(
    ("table", "key", "value", "expected"),
    [
        ("build", "app_dir", "/srv/app", "build.app_dir: invalid value '/srv/app' (a path relative to"),
        ("build", "app_dir", "", "build.app_dir: invalid value ''"),
        ("build", "app_dir", 3, "build.app_dir: must be a string, got integer"),
        ("build", "dockerfile", "x", "build.dockerfile: unknown key (allowed: app_dir)"),
        ("infra", "dir", "C:\\tf", "infra.dir: invalid value"),
        ("infra", "root", "tf", "infra.root: unknown key (allowed: dir)"),
    ],
)
def test_build_and_infra_keys_are_validated_with_their_key_path(
    table: str, key: str, value: object, expected: str
) -> None:
    data = shipped()
    data[table] = {key: value}
    problems = _problems(data)
    assert any(p.startswith(expected) for p in problems), problems
