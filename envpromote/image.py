"""Image references by digest. After the build nothing is resolved by tag.

Accepted inputs: ``sha256:<64 lowercase hex>`` (a bare digest, completed with the configured repository) or
``<registry>/<repository>@sha256:<64 lowercase hex>``. Anything else - a tag, ``latest``, a short, uppercase or
non-sha256 digest - is refused with the fix spelled out.

What people copy from the tool's output (`DigestQuery`, issue 13): the 12-character digests of tables and
messages, any unique prefix of at least 12 hex characters (with or without ``sha256:``), and full
``<registry>/<repository>@sha256:...`` references. A prefix is resolved by the caller against what it knows (the
ledger, ECR) with `choose_digest`; an ambiguous one is refused listing the candidates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from envpromote.errors import BadInput

DIGEST_RE = re.compile(r"\Asha256:[0-9a-f]{64}\Z")  # \Z: "$" would accept a trailing newline
_REPOSITORY_RE = re.compile(r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*$")
_REGISTRY_RE = re.compile(r"^[A-Za-z0-9.-]+(?::\d{1,5})?$")
_OTHER_ALGORITHMS = {"sha1", "sha224", "sha384", "sha512", "md5", "blake3", "sha3-256"}
_DIGEST_FIX = "Pass the digest printed by 'invoke build' (sha256: followed by 64 lowercase hex characters)."
PREFIX_MIN = 12  # the short form the tool prints
_PREFIX_RE = re.compile(rf"\A(?:sha256:)?([0-9a-f]{{{PREFIX_MIN},64}})\Z")


def short_digest(digest: str) -> str:
    """The 12-hex-character form people read (tables, tags, messages); never used to look anything up."""
    return digest.removeprefix("sha256:")[:12]


def _shown(value: str) -> str:
    """A short, printable rendering of untrusted input for error messages."""
    text = value if len(value) <= 80 else value[:77] + "..."
    return repr(text)


def parse_digest(value: str) -> str:
    """Validate a bare digest and return it unchanged."""
    if not isinstance(value, str) or not value:
        raise BadInput("No image digest given.", fix=_DIGEST_FIX)
    if DIGEST_RE.match(value):
        return value
    lowered = value.lower()
    if DIGEST_RE.match(lowered):
        raise BadInput(
            f"Digest {_shown(value)} has uppercase hex.", fix="Use the lowercase digest. " + _DIGEST_FIX
        )
    if ":" in value and not value.startswith("sha256:"):
        algorithm, rest = value.split(":", 1)
        if algorithm.lower() in _OTHER_ALGORITHMS and re.fullmatch(r"[0-9a-fA-F]+", rest):
            raise BadInput(
                f"Digest algorithm {_shown(algorithm)} is not supported; only sha256.", fix=_DIGEST_FIX
            )
        raise BadInput(
            f"{_shown(value)} looks like a tag; EnvPromote deploys by digest only.", fix=_DIGEST_FIX
        )
    if value.startswith("sha256:"):
        raise BadInput(
            f"Digest {_shown(value)} is not 64 lowercase hex characters after 'sha256:'.", fix=_DIGEST_FIX
        )
    raise BadInput(f"{_shown(value)} is not an image digest (tags are never promoted).", fix=_DIGEST_FIX)


@dataclass(frozen=True)
class ImageRef:
    """``registry/repository@digest`` - the only form an image is deployed in."""

    registry: str
    repository: str
    digest: str

    @property
    def uri(self) -> str:
        return f"{self.registry}/{self.repository}@{self.digest}"

    @property
    def short(self) -> str:
        return short_digest(self.digest)

    def __str__(self) -> str:
        return self.uri

    @classmethod
    def parse(
        cls, value: str, *, default_registry: str | None = None, default_repository: str | None = None
    ) -> ImageRef:
        """Parse a digest reference; a bare digest needs the default registry and repository."""
        if not isinstance(value, str) or not value.strip():
            raise BadInput("No image given.", fix=_DIGEST_FIX)
        if value != value.strip() or any(ch.isspace() for ch in value):
            raise BadInput(f"Image reference {_shown(value)} contains whitespace.", fix=_DIGEST_FIX)
        if "@" not in value:
            if re.fullmatch(r"[A-Za-z0-9]+:[0-9a-fA-F]*|[0-9a-fA-F]{12,}", value):
                digest = parse_digest(value)
                if not (default_registry and default_repository):
                    raise BadInput(
                        "A bare digest needs a repository.", fix="Pass registry/repository@sha256:..."
                    )
                return cls(default_registry, default_repository, digest)
            raise BadInput(
                f"Image {_shown(value)} is referenced by tag; EnvPromote deploys by digest only.",
                fix="Use <registry>/<repository>@sha256:<digest> or the bare digest from 'invoke build'.",
            )
        name, digest = value.rsplit("@", 1)
        digest = parse_digest(digest)
        if ":" in name.rsplit("/", 1)[-1]:
            raise BadInput(
                f"Image {_shown(value)} mixes a tag with a digest.",
                fix="Drop the tag: <registry>/<repository>@sha256:<digest>.",
            )
        if "/" not in name:
            raise BadInput(
                f"Image {_shown(value)} has no registry.", fix="Use <registry>/<repository>@sha256:..."
            )
        registry, repository = name.split("/", 1)
        if not _REGISTRY_RE.match(registry) or not _REPOSITORY_RE.match(repository):
            raise BadInput(
                f"Image {_shown(value)} has an invalid registry or repository name.", fix=_DIGEST_FIX
            )
        return cls(registry, repository, digest)


@dataclass(frozen=True)
class DigestQuery:
    """A digest as a person passed it: a full digest, or a hex prefix to resolve; and the repository named."""

    text: str
    digest: str | None = None  # sha256:<64 hex> when given in full
    prefix: str | None = None  # lowercase hex, >= 12 characters, when only a prefix was given
    registry: str | None = None  # from a <registry>/<repository>@sha256:... reference
    repository: str | None = None

    def check_repository(self, registry: str, repository: str) -> None:
        """A full reference must name the configured repository (and registry); others are refused."""
        if self.repository is None:
            return
        if self.repository != repository or (self.registry is not None and self.registry != registry):
            raise BadInput(
                f"Image {_shown(self.text)} is not in the configured repository {registry}/{repository}.",
                fix=f"Pass a digest of {registry}/{repository} (a bare sha256:... or "
                f"{registry}/{repository}@sha256:...).",
            )


def parse_digest_query(value: str) -> DigestQuery:
    """Parse what a person passed as a digest (see the module docstring); BadInput (exit 2) for anything else."""
    if not isinstance(value, str) or not value:
        raise BadInput("No image digest given.", fix=_DIGEST_FIX)
    if "@" in value:
        ref = ImageRef.parse(value)
        return DigestQuery(value, digest=ref.digest, registry=ref.registry, repository=ref.repository)
    match = _PREFIX_RE.match(value)
    if match is None:
        body = value.removeprefix("sha256:")
        if re.fullmatch(r"[0-9a-f]{1,11}", body):
            raise BadInput(
                f"Digest prefix {_shown(value)} is shorter than {PREFIX_MIN} hex characters "
                "(a full digest is sha256: and 64 lowercase hex).",
                fix="Pass at least the 12 characters 'invoke history' shows, or the full sha256:<64 hex>.",
            )
        return DigestQuery(value, digest=parse_digest(value))  # raises the precise refusal
    hexpart = match.group(1)
    if len(hexpart) == 64:
        return DigestQuery(value, digest=f"sha256:{hexpart}")
    return DigestQuery(value, prefix=hexpart)


def choose_digest(query: DigestQuery, candidates: Iterable[str], *, where: str) -> str:
    """The one candidate digest the query's prefix names; BadInput listing them when none or several match."""
    if query.digest is not None:
        return query.digest
    assert query.prefix is not None
    matching = sorted({c for c in candidates if c.removeprefix("sha256:").startswith(query.prefix)})
    if len(matching) == 1:
        return matching[0]
    if not matching:
        raise BadInput(
            f"No image digest starting with {query.prefix} is known ({where}).",
            fix="Pick a digest from 'invoke history --env <env>' or the one printed by 'invoke build'.",
        )
    shown = ", ".join(matching[:10]) + (f" and {len(matching) - 10} more" if len(matching) > 10 else "")
    raise BadInput(
        f"Digest prefix {query.prefix} is ambiguous: {len(matching)} digests match ({shown}).",
        fix="Pass more characters, or the full sha256:<64 hex> digest.",
    )
