"""The checks of an environment's `verify` table, run at the pause (test traffic) and during bake.

Each check gives one piece of evidence ``{check, result, detail}`` (result ``pass`` or ``fail``), the entries of the
ledger's ``verification`` field. HTTP checks go only to the configured URL (no proxy, no redirects followed);
alarms are read with CloudWatch DescribeAlarms; the command runs without a shell, with a timeout.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass
from typing import Any

import botocore.exceptions

from envpromote.strategy import HttpCheck, Verify

MAX_BODY = 1 << 20
READ_CHUNK = 1 << 16
MAX_DETAIL = 300
Evidence = dict[str, str]


@dataclass(frozen=True)
class VerifyContext:
    """What the placeholders in expected values stand for, and what the command is told."""

    env: str
    digest: str
    image: str = ""
    task_definition: str = ""

    def fill(self, text: str) -> str:
        return text.format(
            env=self.env, digest=self.digest, image=self.image, task_definition=self.task_definition
        )

    def environ(self, url: str | None) -> dict[str, str]:
        extra = {
            "ENVPROMOTE_ENV": self.env,
            "ENVPROMOTE_DIGEST": self.digest,
            "ENVPROMOTE_IMAGE": self.image,
            "ENVPROMOTE_TASK_DEFINITION": self.task_definition,
        }
        if url:
            extra["ENVPROMOTE_TEST_URL"] = url
        return {**os.environ, **extra}


def evidence(check: str, ok: bool, detail: str) -> Evidence:
    text = " ".join(detail.split())
    if len(text) > MAX_DETAIL:
        text = text[: MAX_DETAIL - 3] + "..."
    return {"check": check, "result": "pass" if ok else "fail", "detail": text}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None  # a redirect is the answer: checks never leave the configured URL


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def http_check(
    check: HttpCheck,
    base_url: str,
    context: VerifyContext,
    *,
    opener: urllib.request.OpenerDirector | None = None,
    phase: str = "pause",
) -> Evidence:
    """GET base_url + check.path; compare the status, the JSON fields and the substring."""
    name = f"{phase}: {check.name()}"
    url = base_url.rstrip("/") + check.path
    # timeout_seconds bounds the whole check, not only each socket operation: a server that trickles its body
    # one byte at a time must not hold the pause open.
    deadline = time.monotonic() + check.timeout_seconds
    request = urllib.request.Request(url, headers={"User-Agent": "envpromote-verify"})  # noqa: S310 - http(s) only
    try:
        try:
            with (opener or _opener()).open(request, timeout=check.timeout_seconds) as response:
                status, body = int(response.status), _read_body(response, deadline)
        except urllib.error.HTTPError as exc:
            status, body = int(exc.code), _read_body(exc, deadline) if exc.fp else b""
    except TimeoutError:
        return evidence(name, False, f"{url}: no complete answer within {check.timeout_seconds:g}s")
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        # HTTPException: a malformed status line, headers or body (BadStatusLine, IncompleteRead, LineTooLong)
        reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
        return evidence(name, False, f"{url}: no answer ({reason})")
    if status != check.status:
        return evidence(name, False, f"{url}: expected status {check.status}, got {status}")
    problems: list[str] = []
    seen: list[str] = []
    if check.json_fields:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
            return evidence(name, False, f"{url}: {status}, body is not JSON")
        for path, expected_template in check.json_fields.items():
            expected = context.fill(expected_template)
            found, value = _field(document, path)
            actual = value if isinstance(value, str) else json.dumps(value)
            if not found:
                problems.append(f"{path} missing (expected {expected})")
            elif actual != expected:
                problems.append(f"{path}: expected {expected}, got {actual}")
            else:
                seen.append(f"{path}={actual}")
    if check.contains is not None:
        wanted = context.fill(check.contains)
        if wanted not in body.decode("utf-8", "replace"):
            problems.append(f"body does not contain {wanted!r}")
    if problems:
        return evidence(name, False, f"{url}: {status}, " + "; ".join(problems))
    return evidence(name, True, f"{url}: {status}" + (", " + ", ".join(seen) if seen else ""))


def _read_body(response: Any, deadline: float) -> bytes:
    """At most MAX_BODY bytes, read a chunk at a time until `deadline` (TimeoutError past it)."""
    read = getattr(response, "read1", None) or response.read
    chunks: list[bytes] = []
    size = 0
    while size < MAX_BODY:
        if time.monotonic() > deadline:
            raise TimeoutError
        chunk = read(min(READ_CHUNK, MAX_BODY - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    body = b"".join(chunks)
    missing = getattr(response, "length", None)
    if size < MAX_BODY and isinstance(missing, int) and missing > 0:
        raise http.client.IncompleteRead(body, missing)  # the connection closed before Content-Length bytes
    return body


def _field(document: Any, path: str) -> tuple[bool, Any]:
    value = document
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value


def alarm_checks(cloudwatch: Any, names: tuple[str, ...], *, phase: str = "pause") -> list[Evidence]:
    """One piece of evidence per alarm: ALARM or unknown fails; OK and INSUFFICIENT_DATA pass."""
    if not names:
        return []
    found: dict[str, Mapping[str, Any]] = {}
    try:
        for start in range(0, len(names), 100):
            answer = cloudwatch.describe_alarms(AlarmNames=list(names[start : start + 100]), MaxRecords=100)
            for alarm in [*answer.get("MetricAlarms", []), *answer.get("CompositeAlarms", [])]:
                found[str(alarm.get("AlarmName"))] = alarm
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        return [
            evidence(f"{phase}: alarm {name}", False, f"could not read the alarm ({exc})") for name in names
        ]
    results = []
    for name in names:
        alarm = found.get(name)
        if alarm is None:
            results.append(evidence(f"{phase}: alarm {name}", False, "no such CloudWatch alarm"))
            continue
        state = str(alarm.get("StateValue", "?"))
        detail = state if state == "OK" else f"{state}: {alarm.get('StateReason', '')}".rstrip(": ")
        results.append(evidence(f"{phase}: alarm {name}", state in {"OK", "INSUFFICIENT_DATA"}, detail))
    return results


Runner = Callable[..., "subprocess.CompletedProcess[str]"]
KILL_GRACE_S = 5.0


def run_bounded(
    argv: list[str], *, timeout: float, env: Mapping[str, str], **_ignored: Any
) -> subprocess.CompletedProcess[str]:
    """subprocess.run for the verify command, except that a timeout kills its whole process group and output
    that is not UTF-8 is decoded with replacement (subprocess.run's text mode raised UnicodeDecodeError).

    subprocess.run kills only the child: a script's own children (curl, sleep) kept running after the check gave
    up. Raises TimeoutExpired like run(); stderr is merged into stdout.
    """
    with subprocess.Popen(  # argv from envpromote.toml, no shell
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        env=dict(env),
        start_new_session=True,  # its own process group, so the group can be killed
    ) as process:
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.communicate(timeout=KILL_GRACE_S)  # a process that left the group may keep the pipe
            raise subprocess.TimeoutExpired(argv, timeout) from None
        return subprocess.CompletedProcess(argv, process.returncode, output, "")


def command_check(
    command: tuple[str, ...],
    timeout: float,
    context: VerifyContext,
    url: str | None,
    *,
    run: Runner = run_bounded,
    phase: str = "pause",
) -> Evidence:
    """Run the command (no shell) with ENVPROMOTE_* in its environment; exit 0 passes."""
    name = f"{phase}: command {' '.join(command)}"
    try:
        done = run(
            list(command),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=context.environ(url),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return evidence(name, False, f"did not finish within {timeout:g}s")
    except OSError as exc:
        return evidence(name, False, f"could not run: {exc}")
    output = (done.stdout or "") + (done.stderr or "")
    tail = output.strip()[-200:]
    return evidence(name, done.returncode == 0, f"exit {done.returncode}" + (f": {tail}" if tail else ""))


@dataclass
class Verifier:
    """Runs an environment's checks: :meth:`run` gives the evidence of one round (pause or bake)."""

    verify: Verify
    context: VerifyContext
    _: KW_ONLY
    cloudwatch: Any | None = None
    opener: urllib.request.OpenerDirector | None = None
    run_command: Runner = run_bounded

    def run(self, phase: str = "pause", base_url: str | None = None) -> list[Evidence]:
        """All checks against `base_url` (default: the test listener); alarms and the command last."""
        url = base_url or self.verify.test_url
        results: list[Evidence] = []
        for check in self.verify.http:
            if url is None:
                results.append(evidence(f"{phase}: {check.name()}", False, "no URL to check"))
                continue
            results.append(http_check(check, url, self.context, opener=self.opener, phase=phase))
        if self.verify.alarms:
            if self.cloudwatch is None:
                results += [
                    evidence(f"{phase}: alarm {name}", False, "no CloudWatch client")
                    for name in self.verify.alarms
                ]
            else:
                results += alarm_checks(self.cloudwatch, self.verify.alarms, phase=phase)
        if self.verify.command:
            results.append(
                command_check(
                    self.verify.command,
                    self.verify.command_timeout_seconds,
                    self.context,
                    url,
                    run=self.run_command,
                    phase=phase,
                )
            )
        return results


def passed(results: list[Evidence]) -> bool:
    return all(result["result"] == "pass" for result in results)
