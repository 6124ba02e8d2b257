"""The AWS requests the sandbox server receives: which service each is for, how many of each it got, the
answer AWS gives when it throttles, and the gate that keeps a reset apart from the requests in flight."""

from __future__ import annotations

import contextlib
import functools
import json
import re
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from html import escape  # & < > (and quotes) for the XML error body
from typing import Any
from urllib.parse import parse_qs

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_TARGET_PREFIXES = {
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "AmazonEC2ContainerRegistry_V20150921": "ecr",
    "AmazonSQS": "sqs",
    "AWSEvents": "events",
    "DynamoDB_20120810": "dynamodb",
    "Logs_20140328": "logs",
}


def service_of(authorization: str | None, target: str | None) -> str:
    """The AWS service a request is for: its SigV4 credential scope, else its X-Amz-Target prefix."""
    if authorization:
        match = _CREDENTIAL_SCOPE.search(authorization)
        if match:
            return match.group(1).lower()
    if target:
        return _TARGET_PREFIXES.get(target.split(".", 1)[0], "unknown")
    return "unknown"


def throttle_response(service: str, json_protocol: bool) -> tuple[str, list[tuple[str, str]], bytes]:
    """The error AWS sends when it throttles: botocore recognises each of these and retries."""
    request_id = str(uuid.uuid4())
    if json_protocol:
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", request_id)]
        return "400 Bad Request", headers, body
    if service == "s3":
        body = (
            "<?xml version='1.0' encoding='UTF-8'?><Error><Code>SlowDown</Code>"
            f"<Message>Please reduce your request rate.</Message><RequestId>{request_id}</RequestId></Error>"
        ).encode()
        return "503 Slow Down", [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)], body
    body = (
        "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
        f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
    return "400 Bad Request", [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body


class RequestCounter:
    """AWS requests received, by ``service:Operation`` and by client (user agent's first word), so that a
    benchmark can count the calls of tools it cannot instrument (awscli, ecs-deploy)."""

    def __init__(self) -> None:
        self.by_operation: Counter[str] = Counter()
        self.by_agent: Counter[str] = Counter()
        self._lock = threading.Lock()

    def record(self, service: str, environ: dict[str, Any]) -> None:
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            operation = target.rsplit(".", 1)[-1]
        else:
            query = parse_qs(environ.get("QUERY_STRING", ""))
            operation = query.get("Action", [environ.get("REQUEST_METHOD", "?")])[0]
        agent = (environ.get("HTTP_USER_AGENT") or "unknown").split(" ", 1)[0]
        with self._lock:
            self.by_operation[f"{service}:{operation}"] += 1
            self.by_agent[agent] += 1

    def reset(self) -> None:
        with self._lock:
            self.by_operation.clear()
            self.by_agent.clear()

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": sum(self.by_operation.values()),
                "by_operation": dict(self.by_operation),
                "by_agent": dict(self.by_agent),
            }


class RequestGate:
    """Requests are served concurrently with each other, a reset with none of them.

    moto's reset re-initialises every backend in place (``BaseBackend.reset`` empties the backend's
    ``__dict__`` before calling ``__init__`` again). A request served meanwhile by another server thread
    (an S3, IAM, STS or EC2 call of a test's setup, say) then fails inside moto with an AttributeError,
    which werkzeug answers with an HTML 500 page: botocore reports that as ``ResponseParserError ...
    invalid XML``. The more loaded the machine, the wider the window. So a reset waits until the requests
    in flight are answered, and requests arriving meanwhile wait until the reset is done.

    SQS ReceiveMessage is not gated: a long poll may stay in flight for up to 20 s after its client is gone
    (a killed CLI), and moto's receive loop re-reads the queue on every turn.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._resetting = False

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        with self._cond:
            while self._resetting:
                self._cond.wait()
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                if self._active == 0:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            while self._resetting:
                self._cond.wait()
            self._resetting = True
            while self._active:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._resetting = False
                self._cond.notify_all()


UNGATED_TARGETS = {"AmazonSQS.ReceiveMessage"}


def answer_unimplemented_operations() -> None:
    """An operation moto does not implement is answered as AWS answers an operation it does not offer: a 400
    (``UnknownOperationException`` for JSON protocols, ``InvalidAction`` for query ones) that clients do not
    retry, with a line in the server log. moto's own answer is a 500, which botocore retries with backoff for
    5-10 s before a caller can fall back. Idempotent."""
    from moto.core.responses import BaseResponse

    original = BaseResponse.call_action
    if getattr(original, "_envpromote_answers_unimplemented", False):
        return

    def call_action(self: Any) -> Any:
        try:
            return original(self)
        except NotImplementedError as exc:
            print(f"envpromote-sandbox: not offered: {exc}", file=sys.stderr, flush=True)
            if self.headers.get("X-Amz-Target"):
                body = json.dumps({"__type": "UnknownOperationException", "message": str(exc)})
                headers = {
                    "Content-Type": "application/x-amz-json-1.1",
                    "x-amzn-ErrorType": "UnknownOperationException",
                }
                return 400, headers, body
            body = (
                "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code>"
                f"<Message>{escape(str(exc))}</Message></Error><RequestId>sandbox</RequestId></ErrorResponse>"
            )
            return 400, {"Content-Type": "text/xml"}, body

    call_action._envpromote_answers_unimplemented = True  # type: ignore[attr-defined]
    BaseResponse.call_action = call_action  # type: ignore[method-assign]


def moto_dispatcher() -> Any:
    """moto's WSGI dispatcher, remembering which backend serves a Host header.

    moto matches every request's host against each backend's URL patterns (hundreds of regular expressions),
    twice for a host like 127.0.0.1 that names no service: about 30 % of the request-handling samples a profile
    took, and a fifth of the server's CPU per reset + provision. The answer depends only on the host and the
    patterns, which never change, so it is worked out once per host.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    dispatcher = DomainDispatcherApplication(create_backend_app)
    dispatcher.get_backend_for_host = functools.lru_cache(maxsize=1024)(  # type: ignore[method-assign]
        dispatcher.get_backend_for_host
    )
    return dispatcher
