"""A counting reverse proxy for AWS API calls: every tool under test talks to the sandbox through it.

Each request is forwarded unchanged (same method, path, headers including Host, body) to the upstream
endpoint and recorded with its arrival and completion times (``time.monotonic()``), the AWS service (from
the SigV4 credential scope) and the operation (``X-Amz-Target``, a query/form ``Action``, the smithy RPC v2
path, or for REST APIs such as S3 the method and path shape). Counting at the wire is the only way to count
identically for tools we do not control (ecs-deploy, awscli) and for our own.

Listens on 127.0.0.1 only; forwards to 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Long enough for an SQS long poll (20 s) and the sandbox's latency fault (up to 35 s).
UPSTREAM_TIMEOUT_S = 120.0
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_RPC_V2_PATH = re.compile(r"^/service/([^/]+)/operation/([^/?]+)")


@dataclass(frozen=True)
class Call:
    """One forwarded request: when it arrived and finished (monotonic seconds), what it was, its status."""

    started: float
    finished: float
    service: str
    operation: str
    status: int

    @property
    def name(self) -> str:
        return f"{self.service}:{self.operation}"


def classify(method: str, target: str, headers: Mapping[str, str], body: bytes) -> tuple[str, str]:
    """(service, operation) of an AWS request, from what is on the wire (pure).

    Service: the SigV4 credential scope of the Authorization header (``.../us-east-1/ecs/aws4_request``).
    Operation, first match wins: ``X-Amz-Target`` (JSON protocols: ECS, SQS, DynamoDB, ECR), the
    smithy RPC v2 path, ``Action=`` in the query or a form body (query protocols: STS, IAM, older SQS), else
    the REST shape ``METHOD /bucket[/key][?subresource]`` with names replaced by placeholders.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    scope = _CREDENTIAL_SCOPE.search(lowered.get("authorization", ""))
    service = scope.group(1) if scope else "unsigned"
    path, _, query = target.partition("?")
    amz_target = lowered.get("x-amz-target")
    if amz_target:
        return service, amz_target.rsplit(".", 1)[-1]
    rpc = _RPC_V2_PATH.match(path)
    if rpc:
        return service, rpc.group(2)
    params = urllib.parse.parse_qs(query, keep_blank_values=True)
    if "Action" not in params and "x-www-form-urlencoded" in lowered.get("content-type", ""):
        params = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    if "Action" in params:
        return service, params["Action"][0]
    parts = [p for p in path.split("/") if p]
    shape = "/" + "/".join(["{bucket}", "{key}"][: min(len(parts), 2)])
    subresources = sorted(k for k in urllib.parse.parse_qs(query, keep_blank_values=True) if k.islower())
    return service, f"{method} {shape}" + (f"?{'&'.join(subresources)}" if subresources else "")


class CountingProxy:
    """``with CountingProxy(upstream) as proxy:`` - point clients at ``proxy.url``; read ``proxy.calls()``."""

    def __init__(self, upstream: str) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        if parsed.hostname not in {"127.0.0.1", "localhost"} or parsed.port is None:
            raise ValueError(f"the proxy forwards to 127.0.0.1 only, got {upstream!r}")
        self.upstream_port = parsed.port
        self._calls: list[Call] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="countproxy")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> CountingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
            # One write per response, sent at once: with the headers and the body in two unbuffered writes,
            # Nagle's algorithm held the body until the client's delayed ACK of the headers (~40 ms on some
            # responses), a cost of the proxy, not of the tool, that grew with the number of calls.
            disable_nagle_algorithm = True
            wbufsize = 256 * 1024  # flushed by handle_one_request after each response

            def log_message(self, format: str, *args: object) -> None:
                return None

            def handle_expect_100(self) -> bool:
                answered = super().handle_expect_100()
                self.wfile.flush()  # "100 Continue" now, not with the response (botocore's S3 PUTs wait 1 s)
                return answered

            def _body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    chunks: list[bytes] = []
                    while True:
                        size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline().strip():  # trailers
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _forward(self) -> None:
                started = time.monotonic()
                body = self._body()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                service, operation = classify(self.command, self.path, headers, body)
                status = 502
                try:
                    upstream = http.client.HTTPConnection(
                        "127.0.0.1", proxy.upstream_port, timeout=UPSTREAM_TIMEOUT_S
                    )
                    try:
                        upstream.putrequest(
                            self.command, self.path, skip_host=True, skip_accept_encoding=True
                        )
                        for key, value in headers.items():
                            upstream.putheader(key, value)
                        if body or self.command in {"POST", "PUT", "PATCH"}:
                            upstream.putheader("Content-Length", str(len(body)))
                        upstream.endheaders(body or None)
                        response = upstream.getresponse()
                        payload = response.read()
                        status = response.status
                        self.send_response(response.status, response.reason)
                        for key, value in response.getheaders():
                            if key.lower() not in HOP_BY_HOP:
                                self.send_header(key, value)
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        if self.command != "HEAD":
                            self.wfile.write(payload)
                    finally:
                        upstream.close()
                except (ConnectionError, TimeoutError, http.client.HTTPException, OSError):
                    # upstream dropped the connection (the sandbox's fault injection does that): drop ours too
                    self.close_connection = True
                finally:
                    proxy._record(Call(started, time.monotonic(), service, operation, status))

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward

        return Handler


def count_by_name(calls: Iterable[Call]) -> dict[str, int]:
    """{"ecs:DescribeServices": 12, ...}, sorted by name."""
    counted = Counter(call.name for call in calls)
    return dict(sorted(counted.items()))
