"""Start-up configuration: defaults, accepted values, and one clear message per bad value."""

from __future__ import annotations

import pytest
from envpromote_app.config import ConfigError, Settings, load_settings

DIGEST = "sha256:" + "0f" * 32


def test_defaults_when_nothing_is_set() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings.port == 8080
    assert settings.shutdown_grace_seconds == 20
    assert settings.image_digest is None
    assert settings.enable_test_endpoints is False


def test_values_from_a_task_definition_are_kept() -> None:
    settings = load_settings(
        {
            "PORT": "9000",
            "APP_NAME": "web",
            "APP_ENVIRONMENT": "production",
            "APP_IMAGE_DIGEST": DIGEST,
            "APP_SOURCE_COMMIT": "abc1234",
            "LOG_LEVEL": "warning",
            "SHUTDOWN_GRACE_SECONDS": "12",
        }
    )
    assert (settings.port, settings.service_name, settings.environment) == (9000, "web", "production")
    assert (settings.image_digest, settings.source_commit) == (DIGEST, "abc1234")
    assert settings.log_level == "WARNING"
    assert settings.shutdown_grace_seconds == 12


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "http"),
        ("PORT", "0"),
        ("PORT", "70000"),
        ("PORT", "-1"),
        ("APP_NAME", ""),
        ("APP_NAME", "has space"),
        ("APP_ENVIRONMENT", "-dev"),
        ("APP_IMAGE_DIGEST", "latest"),
        ("APP_IMAGE_DIGEST", "sha256:" + "A" * 64),
        ("APP_IMAGE_DIGEST", "production"),
        ("APP_SOURCE_COMMIT", "main"),
        ("LOG_LEVEL", "verbose"),
        ("SHUTDOWN_GRACE_SECONDS", "30"),
        ("SHUTDOWN_GRACE_SECONDS", "0"),
        ("SHUTDOWN_GRACE_SECONDS", "soon"),
        ("SHUTDOWN_GRACE_SECONDS", "nan"),
        ("SHUTDOWN_GRACE_SECONDS", "2.5"),
        ("APP_ENABLE_TEST_ENDPOINTS", "maybe"),
        ("HOST", " "),
    ],
)
def test_a_bad_value_names_the_variable_and_the_fix(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({name: value})
    assert len(caught.value.problems) == 1
    problem = caught.value.problems[0]
    assert problem.startswith(name)
    assert "Fix:" in problem
    assert "\n" not in str(caught.value)


def test_every_bad_value_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"PORT": "x", "LOG_LEVEL": "loud", "APP_IMAGE_DIGEST": "v1"})
    assert [problem.split("=")[0] for problem in caught.value.problems] == [
        "PORT",
        "APP_IMAGE_DIGEST",
        "LOG_LEVEL",
    ]


@pytest.mark.parametrize("commit", ["", "unknown"])
def test_empty_or_unknown_version_variables_mean_unknown_not_invalid(commit: str) -> None:
    settings = load_settings({"APP_IMAGE_DIGEST": "", "APP_SOURCE_COMMIT": commit})
    assert (settings.image_digest, settings.source_commit) == (None, None)
