"""Shared plumbing for invoke tasks: the one error -> exit-code mapping, JSON output, the program's name.

Imported by every task module when ``--list`` runs, so it imports nothing heavy: botocore is looked up
only when an exception has to be classified (and it can only be a botocore error if botocore is loaded).

``--json`` contract (every task that has the option, through :func:`handle_errors`): stdout carries exactly one
JSON document - the result, or ``{"error", "exit_code", "fix", "type"}`` - and everything else (plans, diffs,
progress, warnings, subprocess output) goes to stderr. While a ``--json`` task runs, stdout is pointed at stderr
(Python's ``sys.stdout`` and, when it is a real file, file descriptor 1 for child processes); :func:`print_json`
writes to the saved real stdout.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, TypeGuard, TypeVar

from invoke.exceptions import Exit

from envpromote.errors import EXIT_UNEXPECTED, BadInput, EnvPromoteError, PreflightFailed

if TYPE_CHECKING:
    import botocore.exceptions

F = TypeVar("F", bound=Callable[..., Any])

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells expect of a process stopped by Ctrl-C

# ---- the program's name in hints ------------------------------------------------------------------

_program = "invoke"
_INVOKE_COMMAND = re.compile(r"(?<![\w./-])invoke (?=[a-z][\w.-]*)")


def set_program_name(name: str) -> None:
    """Called by :func:`envpromote.cli.main`: hints then say ``envpromote promote ...``, not ``invoke ...``."""
    global _program
    _program = name


def program_name() -> str:
    return _program


def command(text: str) -> str:
    """``command("drift --env dev")`` -> ``"invoke drift --env dev"`` (or ``envpromote ...``)."""
    return f"{_program} {text}"


def as_program(text: str) -> str:
    """Every ``invoke <task>`` a message names, spelled with the running program's name."""
    if _program == "invoke":
        return text
    return _INVOKE_COMMAND.sub(f"{_program} ", text)


# ---- errors -> one line, one exit code ------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """What the user is told about an error: the problem, the fix (may be None) and the exit code."""

    error: str
    exit_code: int
    fix: str | None
    type: str

    def one_line(self, prefix: str = "envpromote: error: ") -> str:
        text = f"{prefix}{self.error}"
        return f"{text} Fix: {self.fix}" if self.fix else text

    def to_json(self) -> dict[str, Any]:
        return {"error": self.error, "exit_code": self.exit_code, "fix": self.fix, "type": self.type}


class Interrupted(KeyboardInterrupt):
    """Ctrl-C with something to say: what carries on without us and what to run next."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


def _squash(text: str) -> str:
    return as_program(" ".join(text.split()))


def failure_of(exc: BaseException) -> Failure:
    """The one mapping from an exception to what the user sees and the exit code (documented in the README)."""
    if isinstance(exc, EnvPromoteError):
        return Failure(
            _squash(exc.message), exc.exit_code, _squash(exc.fix) if exc.fix else None, type(exc).__name__
        )
    if isinstance(exc, Interrupted):
        return Failure(_squash(exc.message), EXIT_INTERRUPTED, _squash(exc.fix), "Interrupted")
    if isinstance(exc, KeyboardInterrupt):
        return Failure("interrupted.", EXIT_INTERRUPTED, None, "Interrupted")
    if isinstance(exc, Exit):
        message = str(exc.message or "").strip()
        message = message.removeprefix("envpromote: error: ").removeprefix("envpromote: ")
        problem, _, fix = message.partition(" Fix: ")
        return Failure(_squash(problem) or f"exit code {exc.code}", exc.code, _squash(fix) or None, "Exit")
    if _is_botocore_error(exc):
        return failure_of(translate_botocore(exc))
    return Failure(
        f"{type(exc).__name__}: {exc}.",
        EXIT_UNEXPECTED,
        "re-run with ENVPROMOTE_DEBUG=1 for a traceback and report it.",
        type(exc).__name__,
    )


def handle_errors(func: F) -> F:
    """Map every exception to one line on stderr and its documented exit code (no traceback).

    With ``json=True`` among the task's options, stdout gets exactly one JSON document (see the module doc).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("json"):
            return _run_mapped(func, args, kwargs, as_json=False)
        with _json_mode():
            return _run_mapped(func, args, kwargs, as_json=True)

    return wrapper  # type: ignore[return-value]


def _run_mapped(func: Callable[..., Any], args: Any, kwargs: Any, *, as_json: bool) -> Any:
    try:
        return func(*args, **kwargs)
    except BrokenPipeError:
        # `invoke history | head`: the reader went away; that is not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise Exit(code=0) from None
    except Exit as exc:
        if as_json and exc.code != 0 and not _state.printed:
            print_json(failure_of(exc).to_json())
        if exc.message and _program != "invoke":
            raise Exit(as_program(str(exc.message)), code=exc.code) from None
        raise
    except (Exception, KeyboardInterrupt) as exc:
        failure = failure_of(exc)
        if as_json and not _state.printed:
            print_json(failure.to_json())
        if isinstance(exc, KeyboardInterrupt):
            raise Exit(failure.one_line("envpromote: "), code=failure.exit_code) from None
        if isinstance(exc, EnvPromoteError) or _is_botocore_error(exc):
            raise Exit(failure.one_line(), code=failure.exit_code) from None
        # last resort: still one line, still the documented code
        line = failure.one_line("envpromote: unexpected error: ")
        raise Exit(line, code=failure.exit_code) from exc if _debug() else None


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


# ---- JSON output ----------------------------------------------------------------------------------


class _JsonState:
    def __init__(self) -> None:
        self.stdout: IO[str] | None = None  # the real stdout while a --json task runs
        self.printed = False


_state = _JsonState()


def _fileno(stream: Any) -> int | None:
    try:
        return int(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return None


@contextlib.contextmanager
def _json_mode() -> Iterator[None]:
    """Point stdout (Python's, and file descriptor 1 for child processes) at stderr; keep the real one."""
    previous = (_state.stdout, _state.printed)
    real = sys.stdout
    real.flush()
    saved_fd: int | None = None
    document: IO[str] = real
    try:
        os.fstat(1)
        os.fstat(2)
    except OSError:
        pass  # no such descriptors (embedded): Python-level redirection only
    else:
        saved_fd = os.dup(1)
        os.dup2(2, 1)
        if _fileno(real) == 1:  # the document goes where fd 1 went; else to the stream we were given
            document = os.fdopen(saved_fd, "w", encoding="utf-8", closefd=False)
    _state.stdout, _state.printed = document, False
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        document.flush()
        if saved_fd is not None:
            os.dup2(saved_fd, 1)
            os.close(saved_fd)
        _state.stdout, _state.printed = previous


def json_mode_active() -> bool:
    return _state.stdout is not None


def print_json(data: Any) -> None:
    """The task's one JSON document (to the real stdout, also while a --json task's stdout points at stderr)."""
    stream = _state.stdout or sys.stdout
    json.dump(data, stream, indent=2, sort_keys=True, default=str)
    stream.write("\n")
    stream.flush()
    _state.printed = True
