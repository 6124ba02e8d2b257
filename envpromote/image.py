"""Image references by digest. After the build nothing is resolved by tag.

Accepted inputs: ``sha256:<64 lowercase hex>`` (a bare digest, completed with the configured repository) or
``<registry>/<repository>@sha256:<64 lowercase hex>``. Anything else - a tag, ``latest``, a short, uppercase or
non-sha256 digest - is refused with the fix spelled out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from envpromote.errors import BadInput

DIGEST_RE = re.compile(r"\Asha256:[0-9a-f]{64}\Z")  # \Z: "$" would accept a trailing newline
_REPOSITORY_RE = re.compile(r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*$")
_REGISTRY_RE = re.compile(r"^[A-Za-z0-9.-]+(?::\d{1,5})?$")
_OTHER_ALGORITHMS = {"sha1", "sha224", "sha384", "sha512", "md5", "blake3", "sha3-256"}
_DIGEST_FIX = "Pass the digest printed by 'invoke build' (sha256: followed by 64 lowercase hex characters)."


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
