"""Shared plumbing for invoke tasks: error -> exit-code mapping and JSON printing.

Imported by every task module when ``--list`` runs, so it imports nothing heavy: botocore is looked up
only when an exception has to be classified (and it can only be a botocore error if botocore is loaded).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeGuard, TypeVar

from invoke.exceptions import Exit

from envpromote.errors import EXIT_UNEXPECTED, BadInput, EnvPromoteError, PreflightFailed

if TYPE_CHECKING:
    import botocore.exceptions

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """Turn EnvPromoteError into a one-line message and its documented exit code (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except EnvPromoteError as exc:
            raise Exit(f"envpromote: error: {exc.one_line()}", code=exc.exit_code) from None
        except KeyboardInterrupt:
            raise Exit("envpromote: interrupted", code=130) from None
        except BrokenPipeError:
            # `invoke history | head`: the reader went away; that is not an error of ours.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise Exit(code=0) from None
        except Exit:
            raise
        except Exception as exc:
            if _is_botocore_error(exc):
                mapped = translate_botocore(exc)
                raise Exit(f"envpromote: error: {mapped.one_line()}", code=mapped.exit_code) from None
            # last resort: still one line, still the documented code
            raise Exit(
                f"envpromote: unexpected error: {type(exc).__name__}: {exc}. "
                "Fix: re-run with ENVPROMOTE_DEBUG=1 for a traceback and report it.",
                code=EXIT_UNEXPECTED,
            ) from exc if _debug() else None

    return wrapper  # type: ignore[return-value]


def _is_botocore_error(exc: BaseException) -> TypeGuard[botocore.exceptions.BotoCoreError]:
    botocore_exceptions = sys.modules.get("botocore.exceptions")
    return botocore_exceptions is not None and isinstance(exc, botocore_exceptions.BotoCoreError)


def translate_botocore(exc: botocore.exceptions.BotoCoreError) -> EnvPromoteError:
    """Transport and credential failures that no use case handles, as user-facing errors."""
    import botocore.exceptions

    if isinstance(exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError):
        return BadInput(
            f"AWS credentials are missing or incomplete ({exc}).",
            fix="Set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or for the sandbox "
            "'eval \"$(invoke sandbox.env)\"'.",
        )
    if isinstance(exc, botocore.exceptions.NoRegionError):
        return BadInput(
            "No AWS region configured.", fix="Set region in envpromote.toml or AWS_DEFAULT_REGION."
        )
    if isinstance(exc, botocore.exceptions.EndpointConnectionError | botocore.exceptions.ConnectionError):
        return PreflightFailed(
            f"Cannot reach the AWS endpoint: {exc}.",
            fix="Check the network and AWS_ENDPOINT_URL; for the local sandbox run 'invoke sandbox.up'.",
        )
    return EnvPromoteError(f"AWS SDK error: {exc}.", fix="Re-run with ENVPROMOTE_DEBUG=1 and report it.")


def _debug() -> bool:
    return os.environ.get("ENVPROMOTE_DEBUG") == "1"


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")
