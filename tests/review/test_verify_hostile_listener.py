"""Review: a hostile or broken test listener never raises out of an HTTP check, and never holds it past its timeout."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from envpromote.strategy import HttpCheck
from envpromote.verify import checks
from envpromote.verify.checks import VerifyContext, http_check

CONTEXT = VerifyContext(env="dev", digest="sha256:" + "a" * 64)


@pytest.fixture
def raw_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """A one-shot TCP server on 127.0.0.1 that answers any request with the bytes in the test's parameter."""
    answer: bytes = request.param
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        thread.join(timeout=5)
        listener.close()


@pytest.mark.parametrize(
    "raw_server",
    [
        b"NOT-HTTP garbage\r\n\r\n",  # BadStatusLine
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",  # IncompleteRead
        b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000 + b"\r\n\r\n",  # LineTooLong
    ],
    indirect=True,
    ids=["bad-status-line", "incomplete-body", "header-too-long"],
)
def test_malformed_answers_are_failed_evidence_not_tracebacks(raw_server: str) -> None:
    result = http_check(HttpCheck(path="/health", timeout_seconds=5), raw_server, CONTEXT)
    assert result["result"] == "fail"
    assert "no answer" in result["detail"]


DEEP = b"[" * 200_000 + b"]" * 200_000


@pytest.mark.parametrize(
    "raw_server",
    [b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(DEEP) + DEEP],
    indirect=True,
)
def test_deeply_nested_json_fails_the_check(raw_server: str) -> None:
    check = HttpCheck(path="/", json_fields={"digest": "{digest}"}, timeout_seconds=5)
    result = http_check(check, raw_server, CONTEXT)
    assert result == {
        "check": "pause: http GET /",
        "result": "fail",
        "detail": f"{raw_server}/: 200, body is not JSON",
    }


class _Trickle:
    """A response that hands out one byte per read while a fake clock advances a second per read."""

    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.status = 200
        self.reads = 0

    def read1(self, _n: int) -> bytes:
        self.reads += 1
        self.clock[0] += 1.0
        return b"x"

    def __enter__(self) -> _Trickle:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None


class _Opener:
    def __init__(self, response: _Trickle) -> None:
        self.response = response

    def open(self, _request: object, timeout: float) -> _Trickle:
        return self.response


def test_a_trickling_body_is_cut_off_at_the_checks_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(checks.time, "monotonic", lambda: clock[0])
    response = _Trickle(clock)
    result = http_check(
        HttpCheck(path="/", timeout_seconds=5),
        "http://127.0.0.1:1",
        CONTEXT,
        opener=_Opener(response),  # type: ignore[arg-type]
    )
    assert result["result"] == "fail"
    assert "no complete answer within 5s" in result["detail"]
    assert response.reads <= 6  # stopped at the deadline, not after MAX_BODY one-byte reads
