"""The sandbox server process: moto's WSGI app with the ECS simulation, fault injection and a control API.

Control API (JSON, same host and port):

* ``GET  /envpromote-sandbox/info``      -> {"service": "envpromote-sandbox", "pid", "url", "config", ...}
* ``GET  /envpromote-sandbox/faults``    -> {"settings": {...}, "counters": {...}} (events counters included)
* ``POST /envpromote-sandbox/faults``    <- {"throttle": {"ecs": 0.5, "s3": 0.5}, "drop_connections": 0.2,
  "latency_s": {"ecs": 2}, "event_loss": 0.3, "event_delay_s": 0.5, "seed": 7}; replaces the settings
  (``{}`` clears them). A share is per service name (SigV4 scope: ecs, s3, sqs, ...) or one number for all.
* ``GET  /envpromote-sandbox/timeline?cluster=C&service=S`` -> the simulated state changes per service, and
  per service ``in_progress`` (rollouts the clock still moves), ``stuck`` (rollouts that never conclude) and
  ``paused`` (staged deployments held by a PAUSE hook: ContinueServiceDeployment or the hook's timeout moves
  them; ``settle`` does not). Staged deployments add one entry per lifecycle stage (state = the stage, detail =
  the traffic split), PAUSED / HOOK_CONTINUE / HOOK_ROLLBACK / HOOK_TIMED_OUT, ROLLBACK_IN_PROGRESS,
  ROLLBACK_SUCCESSFUL and STOPPED
* ``GET  /envpromote-sandbox/clock`` -> {"now", "wall", "scale", "default_scale", "advanced"}
* ``POST /envpromote-sandbox/clock`` <- {"scale": 0..1000} and/or {"advance": seconds} and/or {"settle": true}:
  set the speed of sandbox time (0 freezes it), jump it forward, or jump it to the moment every rollout
  in progress has concluded (stuck ones excepted); the simulation is applied before the answer, which is
  the clock plus {"settled_at": sandbox seconds or null}. Test-only: sandbox time then runs ahead of real time.
* ``GET  /envpromote-sandbox/requests`` -> AWS requests received (total, by service:Operation, by client);
  ``DELETE`` zeroes them (for benchmarks counting the calls of tools they cannot instrument)
* ``GET  /envpromote-sandbox/listeners?cluster=C&service=S`` -> per service its "test" and "production"
  listeners on 127.0.0.1 ({"url", "port"}), who each routes to now, and the requests each revision served
  there (``listeners.py``); ``DELETE`` zeroes the request counts
* ``POST /moto-api/reset`` (moto's) also resets the simulation, the faults and the listeners' counts (the
  listeners' ports stay).

What the server knows about the AWS requests themselves (which service, counting, throttling answers, the
reset gate) is in ``aws_requests.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from envpromote.sandbox import patches
from envpromote.sandbox.aws_requests import (
    UNGATED_TARGETS,
    RequestCounter,
    RequestGate,
    answer_unimplemented_operations,
    moto_dispatcher,
    service_of,
    throttle_response,
)
from envpromote.sandbox.clock import ClockError, SandboxClock, scale_from_env
from envpromote.sandbox.faults import FaultSettings, FaultSpecError, FaultState
from envpromote.sandbox.listeners import ListenerHub
from envpromote.sandbox.simulation import LOCK, Simulation

CONTROL_PREFIX = "/envpromote-sandbox/"
TICK_SECONDS = 0.1
EXIT_PORT_IN_USE = 4

StartResponse = Callable[..., Any]


class SandboxApp:
    """WSGI middleware around moto's dispatcher."""

    def __init__(
        self,
        inner: Callable[[dict[str, Any], StartResponse], Iterable[bytes]],
        sim: Simulation,
        faults: FaultState,
        info: dict[str, Any],
    ) -> None:
        self.inner = inner
        self.sim = sim
        self.faults = faults
        self.info = info
        self.requests = RequestCounter()
        self.gate = RequestGate()

    def reset(self) -> None:
        with LOCK:
            self.sim.reset()
            self.sim.clock.reset_scale()
            self.faults.reset()
            self.sim.sink.reset()
            self.requests.reset()
            if self.sim.listeners is not None:
                self.sim.listeners.reset()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith("/moto-api/reset") and method == "POST":
            with self.gate.exclusive(), LOCK:
                _drain(environ)
                reset_moto()
                self.reset()
            return _json(start_response, "200 OK", {"status": "ok"})
        if environ.get("HTTP_X_AMZ_TARGET") in UNGATED_TARGETS:
            return self._serve(path, method, environ, start_response)
        with self.gate.request():
            return self._serve(path, method, environ, start_response)

    def _serve(
        self, path: str, method: str, environ: dict[str, Any], start_response: StartResponse
    ) -> list[bytes]:
        """One request, its whole body produced here (so that the gate covers all of moto's work)."""
        if path.startswith(CONTROL_PREFIX):
            return list(self._control(path[len(CONTROL_PREFIX) :], method, environ, start_response))
        target = environ.get("HTTP_X_AMZ_TARGET")
        service = service_of(environ.get("HTTP_AUTHORIZATION"), target)
        if not path.startswith("/moto-api"):
            self.requests.record(service, environ)
        if not path.startswith("/moto-api") and self.faults.should_throttle(
            service, self.sim.throttle_fraction() if service == "ecs" else 0.0
        ):
            _drain(environ)
            status, headers, payload = throttle_response(service, target is not None)
            start_response(status, [*headers, ("Content-Length", str(len(payload)))])
            return [payload]
        delay = self.faults.latency(service) if not path.startswith("/moto-api") else 0.0
        if delay > 0:
            time.sleep(
                delay
            )  # a slow endpoint (client read timeouts); never while holding the simulation lock
        if service == "ecs":
            with LOCK:
                self.sim.advance()
                return list(self.inner(environ, start_response))
        return list(self.inner(environ, start_response))

    def _control(
        self, name: str, method: str, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        try:
            if name == "info":
                return _json(
                    start_response, "200 OK", {**self.info, "uptime_s": time.time() - self.info["started"]}
                )
            if name == "faults" and method == "GET":
                return _json(start_response, "200 OK", self._fault_report())
            if name == "faults" and method in {"POST", "PUT"}:
                settings = FaultSettings.parse(json.loads(_drain(environ) or b"{}"))
                self.faults.configure(settings)
                self.sim.sink.configure(
                    loss=settings.event_loss, delay_s=settings.event_delay_s, seed=settings.seed
                )
                return _json(start_response, "200 OK", self._fault_report())
            if name == "faults" and method == "DELETE":
                self.faults.reset()
                self.sim.sink.reset()
                return _json(start_response, "200 OK", self._fault_report())
            if name == "requests" and method == "GET":
                return _json(start_response, "200 OK", self.requests.to_json())
            if name == "requests" and method in {"DELETE", "POST"}:
                self.requests.reset()
                return _json(start_response, "200 OK", self.requests.to_json())
            if name == "clock" and method == "GET":
                return _json(start_response, "200 OK", self.sim.clock.to_json())
            if name == "clock" and method in {"POST", "PUT"}:
                return _json(start_response, "200 OK", self._move_clock(json.loads(_drain(environ) or b"{}")))
            if name == "timeline" and method == "GET":
                query = parse_qs(environ.get("QUERY_STRING", ""))
                with LOCK:
                    self.sim.advance()
                    data = self.sim.timeline(query.get("cluster", [None])[0], query.get("service", [None])[0])
                return _json(start_response, "200 OK", {"services": data})
            if name == "listeners" and self.sim.listeners is not None:
                if method == "DELETE":
                    self.sim.listeners.reset()
                query = parse_qs(environ.get("QUERY_STRING", ""))
                services = self.sim.listeners.to_json(
                    query.get("cluster", [None])[0], query.get("service", [None])[0]
                )
                return _json(start_response, "200 OK", {"services": services})
        except (FaultSpecError, ClockError, json.JSONDecodeError) as exc:
            return _json(start_response, "400 Bad Request", {"error": str(exc)})
        except (
            UnicodeDecodeError,
            RecursionError,
        ):  # a body that is not UTF-8, or nested past the parser's stack
            return _json(start_response, "400 Bad Request", {"error": "the body is not a JSON document"})
        except Exception as exc:  # a bug of ours: say what it was, in the answer and in the log
            traceback.print_exc(file=sys.stderr)
            return _json(
                start_response, "500 Internal Server Error", {"error": f"{type(exc).__name__}: {exc}"}
            )
        return _json(start_response, "404 Not Found", {"error": f"no such control endpoint: {method} {name}"})

    def _move_clock(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict) or set(request) - {"scale", "advance", "settle"}:
            raise ClockError('expected a JSON object with "scale", "advance" and/or "settle"')
        clock = self.sim.clock
        with LOCK:  # nobody sees the clock moved before the simulation caught up with it
            if "scale" in request:
                clock.set_scale(request["scale"])
            if "advance" in request:
                self.sim.advance()  # what was due before the jump happens at its own time
                clock.advance(request["advance"])
            settled_at = self.sim.settle() if request.get("settle") else None
            self.sim.advance()
            return {**clock.to_json(), "settled_at": settled_at}

    def _fault_report(self) -> dict[str, Any]:
        report = self.faults.to_json()
        report["counters"].update({f"events.{k}": v for k, v in self.sim.sink.counters.items()})
        return report


KEPT_ON_RESET = frozenset({"ec2"})


def reset_moto(keep: frozenset[str] = KEPT_ON_RESET) -> None:
    """What ``POST /moto-api/reset`` does in moto, except for the backends in `keep`.

    EC2's backend (default VPC, subnets, security groups, AMI and instance-type catalogues) is what every
    fresh moto builds first and is the slowest by far to rebuild (0.7 s idle, seconds on a busy machine);
    the chain only reads it. Keeping it makes a test's reset + provision about twice as fast.
    """
    from moto.core.base_backend import BackendDict, backend_lock
    from moto.core.model_instances import reset_model_data

    with backend_lock:
        instances: list[Any] = getattr(BackendDict, "_instances")  # noqa: B009 - moto keeps no public handle
        for backend_dict in list(instances):
            if backend_dict.service_name in keep:
                continue
            for account_specific in backend_dict.values():
                account_specific.reset()
            backend_dict.clear()
            instances.remove(backend_dict)
    reset_model_data()


def _drain(environ: dict[str, Any]) -> bytes:
    """Read the request body so a kept-alive connection stays in sync when we answer without moto."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    data: bytes = environ["wsgi.input"].read(length) if length > 0 else b""
    return data


def _json(start_response: StartResponse, status: str, data: Any) -> list[bytes]:
    body = json.dumps(data, default=str, sort_keys=True).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _ticker(sim: Simulation, stop: threading.Event) -> None:
    while not stop.wait(TICK_SECONDS):
        try:
            sim.advance()
        except Exception as exc:  # keep ticking; the log shows what went wrong
            print(f"envpromote-sandbox: simulation tick failed: {type(exc).__name__}: {exc}", file=sys.stderr)


def make_request_handler(faults: FaultState) -> type:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class SandboxRequestHandler(MotoRequestHandler):
        """Drops connections (no response at all) when the fault settings say so."""

        def run_wsgi(self) -> None:
            if not self.path.startswith((CONTROL_PREFIX, "/moto-api")):
                service = service_of(self.headers.get("Authorization"), self.headers.get("X-Amz-Target"))
                if faults.should_drop(service):
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
            super().run_wsgi()

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            if os.environ.get("ENVPROMOTE_SANDBOX_ACCESS_LOG") == "1":
                super().log_request(code, size)

    return SandboxRequestHandler


def _watch_parent(parent_pid: int, stop: threading.Event, shutdown: Callable[[], None]) -> None:
    """A killed test run must not leave its server behind: once re-parented, shut down."""
    while not stop.wait(1.0):
        if os.getppid() != parent_pid:
            print(f"envpromote-sandbox: parent {parent_pid} is gone; stopping", file=sys.stderr, flush=True)
            shutdown()
            return


def serve(
    host: str,
    port: int,
    config: str | None,
    ready_file: str | None,
    *,
    parent_pid: int | None = None,
    time_scale: float | None = None,
) -> int:
    """Run the server until SIGTERM/SIGINT. Writes `ready_file` (JSON: url, pid, port) once listening.

    `time_scale`: speed of sandbox time (default $ENVPROMOTE_SANDBOX_TIME_SCALE, else 1 = real time).
    """
    from werkzeug.serving import make_server

    if host != "127.0.0.1":
        print("envpromote-sandbox: error: the sandbox only listens on 127.0.0.1.", file=sys.stderr)
        return 2
    try:
        clock = SandboxClock(scale_from_env() if time_scale is None else time_scale)
    except ClockError as exc:
        print(f"envpromote-sandbox: error: {exc}", file=sys.stderr)
        return 2
    sim = Simulation(clock=clock)
    sim.listeners = ListenerHub(sim, host)
    faults = FaultState()
    patches.apply(sim)
    answer_unimplemented_operations()
    info: dict[str, Any] = {
        "service": "envpromote-sandbox",
        "pid": os.getpid(),
        "config": config,
        "time_scale": clock.default_scale,
    }
    app = SandboxApp(moto_dispatcher(), sim, faults, info)
    try:
        if port:  # werkzeug reports a taken port with several lines and exit 1; say it in one, with exit 4
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((host, port))
        server = make_server(host, port, app, threaded=True, request_handler=make_request_handler(faults))
    except OSError as exc:
        print(
            f"envpromote-sandbox: error: cannot listen on {host}:{port}: {exc.strerror}. "
            "Fix: pick another port with --port, or stop what is using it ('invoke sandbox.down' if it is ours).",
            file=sys.stderr,
        )
        return EXIT_PORT_IN_USE
    actual_port = server.server_address[1]
    url = f"http://{host}:{actual_port}"
    info.update({"url": url, "port": actual_port, "started": time.time()})
    os.environ.setdefault("MOTO_PORT", str(actual_port))
    stop = threading.Event()
    threading.Thread(target=_ticker, args=(sim, stop), daemon=True, name="sandbox-ticker").start()

    def _shutdown(signum: int, frame: Any) -> None:
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _shutdown)
    signal.signal(signal.SIGINT, _shutdown)
    if parent_pid is not None:
        threading.Thread(
            target=_watch_parent, args=(parent_pid, stop, lambda: _shutdown(0, None)), daemon=True
        ).start()
    if ready_file:
        tmp = Path(ready_file + ".tmp")
        tmp.write_text(json.dumps({"url": url, "pid": os.getpid(), "port": actual_port}))
        tmp.replace(ready_file)
    print(f"envpromote-sandbox: listening on {url} (pid {os.getpid()})", flush=True)
    try:
        server.serve_forever()
    finally:
        stop.set()
        server.server_close()
        sim.listeners.close()
    print("envpromote-sandbox: stopped", flush=True)
    return 0
