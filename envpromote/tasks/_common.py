"""Shared plumbing for invoke tasks: error -> exit-code mapping and JSON printing."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from invoke.exceptions import Exit

from envpromote.errors import EXIT_UNEXPECTED, EnvPromoteError

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
        except Exception as exc:  # last resort: still one line, still the documented code
            raise Exit(
                f"envpromote: unexpected error: {type(exc).__name__}: {exc}. "
                "Fix: re-run with ENVPROMOTE_DEBUG=1 for a traceback and report it.",
                code=EXIT_UNEXPECTED,
            ) from exc if _debug() else None

    return wrapper  # type: ignore[return-value]


def _debug() -> bool:
    return os.environ.get("ENVPROMOTE_DEBUG") == "1"


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")
