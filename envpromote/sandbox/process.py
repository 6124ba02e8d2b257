"""Start, find, stop and talk to the background sandbox server (pid file, log file, control API)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envpromote.errors import PreflightFailed

STATE_DIR_NAME = Path(".envpromote") / "sandbox"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class SandboxInfo:
    """A sandbox server: its URL and process id, as ``server.json`` in its state directory records them."""

    url: str
    pid: int

    @classmethod
    def recorded(cls, state_dir: Path) -> SandboxInfo | None:
        """The server ``server.json`` records (None without a readable record; alive or not)."""
        try:
            data = json.loads((state_dir / "server.json").read_text())
            return cls(url=str(data["url"]), pid=int(data["pid"]))
        except (OSError, ValueError, KeyError):
            return None

    def record(self, state_dir: Path, config_path: str | Path | None) -> None:
        """Write ``server.pid``, ``port`` (kept by stop(): the next start reuses it) and ``server.json``."""
        (state_dir / "server.pid").write_text(f"{self.pid}\n")
        (state_dir / "port").write_text(f"{self.port}\n")
        record = {"url": self.url, "pid": self.pid, "config": str(config_path or "")}
        (state_dir / "server.json").write_text(json.dumps(record) + "\n")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


def state_dir_for(config_path: str | Path | None) -> Path:
    """One sandbox per configuration file: ``.envpromote/sandbox`` next to an ``envpromote.toml`` (else under
    the cwd); for a file of another name in that folder (a copy), ``.envpromote/sandbox-<stem>-<hash>``."""
    if not config_path:
        return Path.cwd() / STATE_DIR_NAME
    path = Path(config_path).resolve()
    if path.name == "envpromote.toml":
        return path.parent / STATE_DIR_NAME
    key = hashlib.sha256(str(path).encode()).hexdigest()[:8]
    return path.parent / STATE_DIR_NAME.parent / f"{STATE_DIR_NAME.name}-{path.stem}-{key}"


def client_env(url: str, region: str = DEFAULT_REGION) -> dict[str, str]:
    """Environment variables that point boto3/awscli at the sandbox with fake credentials."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        # moto accepts any credentials; this fixed fake one only ever reaches the local sandbox.
        "AWS_SECRET_ACCESS_KEY": "testing",  # nosec B105
        "AWS_DEFAULT_REGION": region,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@contextlib.contextmanager
def patched_env(values: dict[str, str]) -> Iterator[None]:
    """Temporarily set environment variables (restored afterwards, including ones that were unset)."""
    saved = {key: os.environ.get(key) for key in values}
    for drop in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        saved.setdefault(drop, os.environ.get(drop))
        os.environ.pop(drop, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# ---------------------------------------------------------------------------------------------- control API
def control(
    url: str, name: str, payload: Any = None, method: str | None = None, timeout: float = 10.0
) -> Any:
    """Call ``/envpromote-sandbox/<name>`` (or ``/moto-api/...`` when name starts with '/'); returns JSON."""
    path = name if name.startswith("/") else f"/envpromote-sandbox/{name}"
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(  # noqa: S310 - the URL is the local sandbox on 127.0.0.1
        url + path,
        data=data,
        method=method or ("POST" if data is not None else "GET"),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - local sandbox
            body = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        raise PreflightFailed(
            f"Sandbox refused {path}: {exc.code} {detail}", fix="Check the request."
        ) from None
    return json.loads(body) if body.strip().startswith((b"{", b"[")) else body.decode(errors="replace")


def reset(url: str) -> None:
    """Clear every resource, the simulation and the fault settings (``POST /moto-api/reset``)."""
    control(url, "/moto-api/reset", method="POST")


def set_faults(url: str, **settings: Any) -> dict[str, Any]:
    """Replace the fault settings, e.g. ``set_faults(url, throttle={"ecs": 0.5}, event_loss=0.3)``."""
    result: dict[str, Any] = control(url, "faults", settings)
    return result


def get_faults(url: str) -> dict[str, Any]:
    result: dict[str, Any] = control(url, "faults")
    return result


def requests(url: str, *, clear: bool = False) -> dict[str, Any]:
    """AWS requests the server received (total, by ``service:Operation``, by client); `clear` zeroes them."""
    result: dict[str, Any] = control(url, "requests", method="DELETE" if clear else "GET")
    return result


def clock(url: str) -> dict[str, Any]:
    """The sandbox clock: {"now", "wall", "scale", "default_scale", "advanced"} (see ``clock.py``)."""
    result: dict[str, Any] = control(url, "clock")
    return result


def move_clock(
    url: str, *, scale: float | None = None, advance: float | None = None, settle: bool = False
) -> dict[str, Any]:
    """Set the speed of sandbox time (0 freezes it), jump it `advance` seconds forward, and/or (`settle`) jump
    it to when every rollout in progress has concluded. The simulation has caught up when this returns.
    Answer: the clock plus "settled_at" (sandbox seconds, when `settle`)."""
    payload: dict[str, Any] = {}
    if scale is not None:
        payload["scale"] = scale
    if advance is not None:
        payload["advance"] = advance
    if settle:
        payload["settle"] = True
    result: dict[str, Any] = control(url, "clock", payload, method="POST")
    return result


def timeline(url: str, cluster: str | None = None, service: str | None = None) -> list[dict[str, Any]]:
    query = "&".join(f"{k}={v}" for k, v in (("cluster", cluster), ("service", service)) if v)
    result: dict[str, Any] = control(url, "timeline" + (f"?{query}" if query else ""))
    services: list[dict[str, Any]] = result["services"]
    return services


def _info(url: str) -> dict[str, Any] | None:
    try:
        data = control(url, "info", timeout=2.0)
    except (OSError, PreflightFailed, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("service") == "envpromote-sandbox" else None


# ---------------------------------------------------------------------------------------------- lifecycle
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running(state_dir: Path) -> SandboxInfo | None:
    """The server recorded in `state_dir`, if it is alive and answers as our sandbox."""
    info = SandboxInfo.recorded(state_dir)
    if info is None or not _alive(info.pid):
        return None
    answer = _info(info.url)
    if answer is None or int(answer.get("pid", -1)) != info.pid:
        return None
    return info


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def previous_port(state_dir: Path) -> int:
    """The port this sandbox had last time (0: none or no longer free), so URLs survive down/up."""
    try:
        port = int((state_dir / "port").read_text().strip())
    except (OSError, ValueError):
        return 0
    return port if 0 < port < 65536 and port_is_free(port) else 0


def check_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise PreflightFailed(
                f"Port {port} on 127.0.0.1 is already in use.",
                fix="Pick another with --port (or omit it for a free one), or stop whatever listens there.",
            ) from None


def start(
    config_path: str | Path | None,
    *,
    port: int = 0,
    state_dir: Path | None = None,
    tied_to_caller: bool = False,
    time_scale: float | None = None,
) -> SandboxInfo:
    """Start the server in the background (new session, pid + log files) and wait until it answers.

    `tied_to_caller`: the server exits when this process does (test sessions); otherwise it outlives it.
    `time_scale`: speed of the sandbox clock (None: $ENVPROMOTE_SANDBOX_TIME_SCALE, else 1 = real time).
    """
    state_dir = state_dir or state_dir_for(config_path)
    state_dir.mkdir(parents=True, exist_ok=True)
    if port:
        check_port_free(port)
    else:
        port = previous_port(state_dir)  # 0 when there is none: the server picks a free one
    ready = state_dir / "ready.json"
    ready.unlink(missing_ok=True)
    log_path = state_dir / "server.log"
    command = [
        sys.executable,
        "-m",
        "envpromote.sandbox",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if config_path:
        command += ["--config", str(Path(config_path).resolve())]
    command += ["--ready-file", str(ready)]
    if tied_to_caller:
        command += ["--parent-pid", str(os.getpid())]
    if time_scale is not None:
        command += ["--time-scale", repr(float(time_scale))]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(  # the server outlives this command: its own session, output to the log
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if ready.exists():
            data = json.loads(ready.read_text())
            info = SandboxInfo(url=str(data["url"]), pid=proc.pid)
            info.record(state_dir, config_path)
            return info
        code = proc.poll()
        if code is not None:
            lines = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
            last = lines[-1] if lines else f"exit code {code}"
            raise PreflightFailed(
                f"The sandbox server did not start: {last.removeprefix('envpromote-sandbox: error: ')}",
                fix=f"See {log_path}.",
            )
        time.sleep(0.1)
    _terminate(proc.pid)
    raise PreflightFailed(
        f"The sandbox server did not answer within {START_TIMEOUT_S:.0f} s.", fix=f"See {log_path}."
    )


def _terminate(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child: poll for its disappearance instead
            finished = 0 if _alive(pid) else pid
        if finished == pid or not _alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def stop(state_dir: Path) -> int | None:
    """Stop the recorded server (only if it really is our sandbox); returns its pid, or None if none ran."""
    info = running(state_dir)
    stopped = None
    if info is not None:
        _terminate(info.pid)
        stopped = info.pid
    for name in ("server.json", "server.pid", "ready.json"):
        (state_dir / name).unlink(missing_ok=True)
    return stopped
