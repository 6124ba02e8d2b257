"""Send a release's notification to every target: retried with backoff, bounded in time, never raised.

A notification failure must never change a release's outcome or lose its record, so :func:`notify` catches
everything per target, prints one line per failure on stderr (naming the target, never a webhook URL) and
returns a :class:`NotifyResult` per target for the caller to note in the record.

Time budget: the engine notifies before it seals the final record, so :func:`notify` returns within
``budget_s`` (default :data:`BUDGET_S` = 15 s) whatever the targets do. Targets are sent in parallel (one daemon
thread each; AWS clients are made beforehand on the calling thread). Each target retries (3 attempts, 1 s then
2 s apart; a webhook attempt times out at min(10 s, the budget left)) only while budget is left; a target still
busy at the deadline is reported as failed ("no answer within 15 s"; its message may still arrive). So the final
record is sealed at most 15 s after the outcome, plus the ledger's own calls.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import botocore.exceptions

from envpromote.aws import ClientFactory
from envpromote.notify import message as msg
from envpromote.notify.targets import SlackTarget, SnsTarget, Target

DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF_S = 1.0
MAX_BACKOFF_S = 20.0
TIMEOUT_S = 10.0
BUDGET_S = 15.0  # the most one notify() call takes, whatever the targets do (module docstring)
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
# SNS errors that another attempt cannot fix.
_PERMANENT_SNS = {
    "AuthorizationError",
    "InvalidParameter",
    "InvalidParameterValue",
    "NotFound",
    "InvalidClientTokenId",
}


@dataclass(frozen=True)
class NotifyResult:
    target: str  # the target as configured (never the webhook URL)
    ok: bool
    attempts: int
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "ok": self.ok, "attempts": self.attempts, "error": self.error}


class _Permanent(Exception):
    """A failure another attempt cannot fix (bad URL, 4xx, missing secret)."""


def _check_url(url: str) -> str:
    text = url.strip()
    if not text.isascii() or not text.isprintable() or " " in text:
        # never echo it: the URL is a secret, and http.client's own error would quote it whole
        raise _Permanent(
            "the webhook URL must be an https:// URL (plain http only to 127.0.0.1) without spaces, control or "
            "non-ASCII characters"
        )
    try:
        parsed = urllib.parse.urlsplit(text)
        parsed.port  # noqa: B018 - a port that is not a number raises here, not in the middle of a send
    except ValueError:
        raise _Permanent("the webhook URL cannot be parsed") from None
    if parsed.scheme == "https" and parsed.hostname:
        return url.strip()
    if parsed.scheme == "http" and parsed.hostname in _LOOPBACK_HOSTS:
        return url.strip()  # a local receiver (tests, a relay on the runner); never plain HTTP elsewhere
    raise _Permanent("the webhook URL must be https:// (plain http only to 127.0.0.1)")


def webhook_url(target: SlackTarget, *, clients: ClientFactory, environ: Mapping[str, str]) -> str:
    if target.source == "env":
        value = environ.get(target.ref, "")
        if not value:
            raise _Permanent(f"environment variable {target.ref} is not set")
        return _check_url(value)
    try:
        secret = clients.client("secretsmanager").get_secret_value(SecretId=target.ref)
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "Error")
        if code in {"ResourceNotFoundException", "AccessDeniedException", "InvalidRequestException"}:
            raise _Permanent(f"cannot read the secret: {code}") from None
        raise
    text = str(secret.get("SecretString") or "").strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            raise _Permanent("the secret is neither a URL nor JSON with a 'url' key") from None
        text = str(data.get("url") or data.get("webhook_url") or "") if isinstance(data, dict) else ""
    return _check_url(text)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None  # a redirect is an error: the message goes to the configured URL or nowhere


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_NoRedirect())


def post_json(url: str, payload: Mapping[str, Any], *, timeout: float = TIMEOUT_S) -> None:
    """POST `payload`; 4xx other than 429 is permanent, anything else (5xx, 429, network) may be retried.

    Redirects are not followed (a 3xx is a permanent failure): the payload goes to the configured URL only.
    """
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked by _check_url
        _check_url(url),
        data=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "envpromote"},
        method="POST",
    )
    try:
        with _opener().open(request, timeout=timeout) as response:
            response.read(1024)
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            raise _Permanent(f"HTTP {exc.code}: the webhook redirects (not followed)") from None
        if 400 <= exc.code < 500 and exc.code != 429:
            raise _Permanent(f"HTTP {exc.code} {exc.reason}") from None
        raise RuntimeError(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise RuntimeError(f"cannot reach the webhook: {exc.reason}") from None
    except (OSError, http.client.HTTPException) as exc:  # reset, timeout, malformed answer: worth a retry
        raise RuntimeError(f"cannot reach the webhook: {type(exc).__name__}") from None


def _sns_client(target: SnsTarget, clients: ClientFactory) -> Any:
    if target.region and target.region != clients.region:
        return ClientFactory(target.region, role_arn=clients.role_arn, counter=clients.counter).client("sns")
    return clients.client("sns")


def _publish(target: SnsTarget, sns: Any, subject: str, body: str) -> None:
    try:
        sns.publish(TopicArn=target.topic_arn, Subject=subject, Message=body)
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "Error")
        message = exc.response.get("Error", {}).get("Message", "")
        if code in _PERMANENT_SNS:
            raise _Permanent(f"{code}: {message}"[:300]) from None
        raise RuntimeError(f"{code}: {message}"[:300]) from None


class _Budget:
    """What is left of one notify() call's time budget."""

    def __init__(self, seconds: float, monotonic: Callable[[], float]) -> None:
        self.seconds = seconds
        self._monotonic = monotonic
        self._deadline = monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self._deadline - self._monotonic())


class _Tries:
    """One target's progress: written by its thread, read after the join (or at the deadline)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.attempts = 0
        self.error = "not sent"
        self.result: NotifyResult | None = None

    def outcome(self, budget_s: float) -> NotifyResult:
        if self.result is not None:
            return self.result
        return NotifyResult(
            self.name,
            ok=False,
            attempts=max(1, self.attempts),
            error=(
                f"no answer within the {budget_s:g} s notification budget (it may still arrive); "
                f"last error: {self.error}"
            )[:300],
        )


def _error_text(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__)[:300]


def _sender(
    target: Target,
    record: Mapping[str, Any],
    message: msg.Message,
    *,
    clients: ClientFactory,
    environ: Mapping[str, str],
    budget: _Budget,
) -> Callable[[], None]:
    """One attempt at `target`. AWS clients are made here, on the calling thread (boto3 sessions are not
    thread-safe); the attempts run on the target's own thread."""
    if isinstance(target, SlackTarget):
        if target.source == "secretsmanager":
            clients.client("secretsmanager")  # made now; webhook_url then gets the cached client
        payload = msg.slack_payload(message)

        def post() -> None:
            url = webhook_url(target, clients=clients, environ=environ)
            post_json(url, payload, timeout=max(0.1, min(TIMEOUT_S, budget.left())))

        return post
    sns = _sns_client(target, clients)
    subject, body = msg.sns_subject(message), msg.sns_body(record, message)

    def publish() -> None:
        _publish(target, sns, subject, body)

    return publish


def notify(
    targets: Sequence[Target],
    record: Mapping[str, Any],
    links: msg.Links,
    *,
    clients: ClientFactory,
    environ: Mapping[str, str] | None = None,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff_s: float = DEFAULT_BACKOFF_S,
    sleep: Callable[[float], None] = time.sleep,
    stderr: TextIO | None = None,
    test: bool = False,
    budget_s: float = BUDGET_S,
    monotonic: Callable[[], float] = time.monotonic,
) -> list[NotifyResult]:
    """Send `record`'s notification to every target, in parallel; one result per target, in order.

    Returns within `budget_s` whatever the targets do; never raises."""
    environ = os.environ if environ is None else environ
    err = stderr or sys.stderr
    message = msg.message_for(record, links, test=test)
    budget = _Budget(budget_s, monotonic)
    tries = [_Tries(target.describe()) for target in targets]
    threads: list[threading.Thread] = []
    for index, (target, state) in enumerate(zip(targets, tries, strict=True)):
        try:
            send = _sender(target, record, message, clients=clients, environ=environ, budget=budget)
        except Exception as exc:  # no credentials, a client that cannot be made: not sent, never raised
            state.result = NotifyResult(state.name, ok=False, attempts=0, error=_error_text(exc))
            continue
        thread = threading.Thread(
            target=_with_retries,
            args=(state, send),
            kwargs={"attempts": attempts, "backoff_s": backoff_s, "sleep": sleep, "budget": budget},
            name=f"envpromote-notify-{index}",
            daemon=True,  # a target that never answers cannot keep the process alive
        )
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(budget.left())
    results = [state.outcome(budget_s) for state in tries]
    for result in results:
        if not result.ok:
            print(
                f"envpromote: notify: {result.target} failed after {result.attempts} attempt(s): {result.error} "
                "(the release outcome is unchanged)",
                file=err,
                flush=True,
            )
    return results


BOARD_URL_VAR = "ENVPROMOTE_BOARD_URL"


def notify_outcome(
    targets: Sequence[Target],
    record: Mapping[str, Any],
    *,
    clients: ClientFactory,
    environ: Mapping[str, str] | None = None,
    stderr: TextIO | None = None,
    sequence: int | None = None,
) -> list[NotifyResult]:
    """The engine's one call after a terminal outcome (or a gate refusal in CI): links from
    $ENVPROMOTE_BOARD_URL and the GitHub run. `sequence` is the one `record` will take when it is a draft not
    yet appended (the board page it links to)."""
    environ = os.environ if environ is None else environ
    if not targets:
        return []
    links = msg.links_for(record, board_url=environ.get(BOARD_URL_VAR), environ=environ, sequence=sequence)
    return notify(targets, record, links, clients=clients, environ=environ, stderr=stderr)


def _with_retries(
    state: _Tries,
    send: Callable[[], None],
    *,
    attempts: int,
    backoff_s: float,
    sleep: Callable[[float], None],
    budget: _Budget,
) -> None:
    """Send with retries while the budget lasts; the result goes into `state` (runs on the target's thread)."""
    attempts = max(1, attempts)
    for attempt in range(1, attempts + 1):
        state.attempts = attempt
        try:
            send()
        except _Permanent as exc:
            state.result = NotifyResult(state.name, ok=False, attempts=attempt, error=str(exc)[:300])
            return
        except Exception as exc:  # a notification must never take the release down with it
            state.error = _error_text(exc)
            pause = min(MAX_BACKOFF_S, backoff_s * 2 ** (attempt - 1))
            if attempt < attempts and pause < budget.left():
                sleep(pause)
                continue
            if attempt < attempts:
                state.error = f"{state.error} (no budget left to retry)"[:300]
            break
        else:
            state.result = NotifyResult(state.name, ok=True, attempts=attempt)
            return
    state.result = NotifyResult(state.name, ok=False, attempts=state.attempts, error=state.error)
