"""Image references: digests only, every other form refused with a fix."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envpromote.errors import EXIT_BAD_INPUT, BadInput
from envpromote.image import DIGEST_RE, ImageRef, parse_digest

HEX = "0123456789abcdef"
GOOD = "sha256:" + "ab" * 32
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


def test_full_reference_round_trips() -> None:
    ref = ImageRef.parse(f"{REGISTRY}/team/app@{GOOD}")
    assert (ref.registry, ref.repository, ref.digest) == (REGISTRY, "team/app", GOOD)
    assert ref.uri == f"{REGISTRY}/team/app@{GOOD}"
    assert ref.short == "ab" * 6


def test_bare_digest_uses_defaults() -> None:
    ref = ImageRef.parse(GOOD, default_registry=REGISTRY, default_repository="app")
    assert ref.uri == f"{REGISTRY}/app@{GOOD}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("latest", "referenced by tag"),
        (f"{REGISTRY}/app:latest", "referenced by tag"),
        (f"{REGISTRY}/app:v1@{GOOD}", "mixes a tag"),
        ("sha256:abc", "not 64 lowercase hex"),
        ("sha256:" + "AB" * 32, "uppercase"),
        ("sha512:" + "ab" * 64, "only sha256"),
        (f"app@{GOOD}", "no registry"),
        (f" {GOOD}", "whitespace"),
        ("", "No image given"),
        (GOOD + "\n", "whitespace"),
    ],
)
def test_refusals_name_the_problem(value: str, expected: str) -> None:
    with pytest.raises(BadInput) as info:
        ImageRef.parse(value, default_registry=REGISTRY, default_repository="app")
    assert expected in info.value.message
    assert info.value.fix
    assert info.value.exit_code == EXIT_BAD_INPUT
    assert "\n" not in info.value.one_line()


@given(st.text(alphabet=HEX, min_size=64, max_size=64))
def test_any_lowercase_sha256_is_accepted(hexpart: str) -> None:
    assert parse_digest("sha256:" + hexpart) == "sha256:" + hexpart


@given(st.text(max_size=120))
def test_parser_never_crashes_and_only_accepts_digests(value: str) -> None:
    try:
        ref = ImageRef.parse(value, default_registry=REGISTRY, default_repository="app")
    except BadInput as exc:
        message = exc.one_line()
    else:
        assert DIGEST_RE.match(ref.digest)
        assert "@" not in ref.repository
        return
    assert message
    assert "\n" not in message
