"""Image references: digests only, every other form refused with a fix."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envpromote.errors import EXIT_BAD_INPUT, BadInput
from envpromote.image import DIGEST_RE, ImageRef, choose_digest, parse_digest, parse_digest_query

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


# ---- what people copy (issue 13) ------------------------------------------------------------------

FULL = "sha256:" + "7793c8e37bb2" + "a" * 52


@pytest.mark.parametrize(
    ("value", "digest", "prefix"),
    [
        (FULL, FULL, None),
        (FULL.removeprefix("sha256:"), FULL, None),  # the 64 hex without the algorithm
        ("7793c8e37bb2", None, "7793c8e37bb2"),  # what `history` and messages show
        ("sha256:7793c8e37bb2aa", None, "7793c8e37bb2aa"),
        (f"{REGISTRY}/envpromote-app@{FULL}", FULL, None),
    ],
)
def test_digests_people_copy_are_parsed(value: str, digest: str | None, prefix: str | None) -> None:
    query = parse_digest_query(value)
    assert (query.digest, query.prefix) == (digest, prefix)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7793c8e37bb", "shorter than 12 hex characters"),
        ("sha256:1234", "64 lowercase hex"),
        ("latest", "not an image digest"),
        ("7793C8E37BB2", "not an image digest"),
        (f"{REGISTRY}/envpromote-app:v1@{FULL}", "mixes a tag"),
        ("", "No image digest given"),
    ],
)
def test_digest_query_refusals(value: str, expected: str) -> None:
    with pytest.raises(BadInput, match=expected) as info:
        parse_digest_query(value)
    assert info.value.exit_code == EXIT_BAD_INPUT


def test_a_reference_must_name_the_configured_repository() -> None:
    parse_digest_query(f"{REGISTRY}/envpromote-app@{FULL}").check_repository(REGISTRY, "envpromote-app")
    with pytest.raises(BadInput, match=f"not in the configured repository {REGISTRY}/envpromote-app"):
        parse_digest_query(f"{REGISTRY}/other@{FULL}").check_repository(REGISTRY, "envpromote-app")
    with pytest.raises(BadInput, match="configured repository"):
        parse_digest_query(f"elsewhere.example/envpromote-app@{FULL}").check_repository(
            REGISTRY, "envpromote-app"
        )


def test_a_prefix_resolves_to_its_one_candidate_and_ambiguity_lists_them() -> None:
    other = "sha256:" + "7793c8e37bb2" + "b" * 52
    unrelated = "sha256:" + "1" * 64
    query = parse_digest_query("7793c8e37bb2")
    assert choose_digest(parse_digest_query("7793c8e37bb2a"), [FULL, other], where="here") == FULL
    assert choose_digest(query, [FULL, unrelated], where="here") == FULL
    with pytest.raises(BadInput, match="ambiguous: 2 digests match") as info:
        choose_digest(query, [FULL, other, unrelated], where="here")
    assert FULL in info.value.message
    assert other in info.value.message
    with pytest.raises(BadInput, match="No image digest starting with 7793c8e37bb2 is known"):
        choose_digest(query, [unrelated], where="here")


@given(st.text(max_size=120))
def test_digest_query_never_crashes(value: str) -> None:
    try:
        query = parse_digest_query(value)
    except BadInput as exc:
        message = exc.one_line()
    else:
        assert (query.digest is not None and DIGEST_RE.match(query.digest)) or (
            query.prefix is not None and len(query.prefix) >= 12
        )
        return
    assert "\n" not in message
