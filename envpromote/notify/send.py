"""Send a release's notification to every target: retried with backoff, never raised.

A notification failure must never change a release's outcome or lose its record, so :func:`notify` catches
everything per target, prints one line per failure on stderr (naming the target, never a webhook URL) and
returns a :class:`NotifyResult` per target for the caller to note in the record.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import botocore.exceptions

from envpromote.aws import ClientFactory
from envpromote.notify.message import Links, links_for, message_for, slack_payload, sns_body, sns_subject
from envpromote.notify.targets import SlackTarget, SnsTarget, Target

DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF_S = 1.0
MAX_BACKOFF_S = 20.0
TIMEOUT_S = 10.0
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
    parsed = urllib.parse.urlsplit(url.strip())
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


def post_json(url: str, payload: Mapping[str, Any], *, timeout: float = TIMEOUT_S) -> None:
    """POST `payload`; 4xx other than 429 is permanent, anything else (5xx, 429, network) may be retried."""
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked by _check_url
        _check_url(url),
        data=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "envpromote"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked
            response.read(1024)
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500 and exc.code != 429:
            raise _Permanent(f"HTTP {exc.code} {exc.reason}") from None
        raise RuntimeError(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise RuntimeError(f"cannot reach the webhook: {exc.reason}") from None


def _sns_client(target: SnsTarget, clients: ClientFactory) -> Any:
    if target.region and target.region != clients.region:
        return ClientFactory(target.region, role_arn=clients.role_arn, counter=clients.counter).client("sns")
    return clients.client("sns")


def _publish(target: SnsTarget, clients: ClientFactory, subject: str, body: str) -> None:
    try:
        _sns_client(target, clients).publish(TopicArn=target.topic_arn, Subject=subject, Message=body)
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "Error")
        message = exc.response.get("Error", {}).get("Message", "")
        if code in _PERMANENT_SNS:
            raise _Permanent(f"{code}: {message}"[:300]) from None
        raise RuntimeError(f"{code}: {message}"[:300]) from None


def notify(
    targets: Sequence[Target],
    record: Mapping[str, Any],
    links: Links,
    *,
    clients: ClientFactory,
    environ: Mapping[str, str] | None = None,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff_s: float = DEFAULT_BACKOFF_S,
    sleep: Callable[[float], None] = time.sleep,
    stderr: TextIO | None = None,
    test: bool = False,
) -> list[NotifyResult]:
    """Send `record`'s notification to every target; one result per target, in order. Never raises."""
    environ = os.environ if environ is None else environ
    err = stderr or sys.stderr
    message = message_for(record, links, test=test)
    results: list[NotifyResult] = []
    for target in targets:

        def send(target: Target = target) -> None:
            if isinstance(target, SlackTarget):
                post_json(webhook_url(target, clients=clients, environ=environ), slack_payload(message))
            else:
                _publish(target, clients, sns_subject(message), sns_body(record, message))

        result = _with_retries(target.describe(), send, attempts=attempts, backoff_s=backoff_s, sleep=sleep)
        if not result.ok:
            print(
                f"envpromote: notify: {result.target} failed after {result.attempts} attempt(s): {result.error} "
                "(the release outcome is unchanged)",
                file=err,
                flush=True,
            )
        results.append(result)
    return results


BOARD_URL_VAR = "ENVPROMOTE_BOARD_URL"


def notify_outcome(
    targets: Sequence[Target],
    record: Mapping[str, Any],
    *,
    clients: ClientFactory,
    environ: Mapping[str, str] | None = None,
    stderr: TextIO | None = None,
) -> list[NotifyResult]:
    """The engine's one call after a terminal outcome: links from $ENVPROMOTE_BOARD_URL and the GitHub run."""
    environ = os.environ if environ is None else environ
    if not targets:
        return []
    links = links_for(record, board_url=environ.get(BOARD_URL_VAR), environ=environ)
    return notify(targets, record, links, clients=clients, environ=environ, stderr=stderr)


def _with_retries(
    name: str, send: Callable[[], None], *, attempts: int, backoff_s: float, sleep: Callable[[float], None]
) -> NotifyResult:
    attempts = max(1, attempts)
    error = "not sent"
    for attempt in range(1, attempts + 1):
        try:
            send()
        except _Permanent as exc:
            return NotifyResult(name, ok=False, attempts=attempt, error=str(exc))
        except Exception as exc:  # a notification must never take the release down with it
            error = str(exc) or type(exc).__name__
            if attempt < attempts:
                sleep(min(MAX_BACKOFF_S, backoff_s * 2 ** (attempt - 1)))
            continue
        return NotifyResult(name, ok=True, attempts=attempt)
    return NotifyResult(name, ok=False, attempts=attempts, error=error[:300])
