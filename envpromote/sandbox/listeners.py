"""The app's "test" and "production" listeners, served by the sandbox server on 127.0.0.1.

Each service gets two HTTP ports when it is first created; they stay the same for the server's life (a reset
and re-provision finds them again). A request on a listener is answered by the revision that the simulation
routes that listener's traffic to (``Simulation.route``: a staged deployment's test/production split, else
every deployment by its running tasks), chosen by smooth weighted round robin, so a split of 10% sends exactly
every tenth request to green:

* ``GET /``        200 ``{"digest", "revision", "taskDefinition", "service", "listener"}``
* ``GET /health``  200 ``{"status": "ok", "digest", "revision"}``

A revision whose scenario says ``http-fail`` (every listener) or ``http-fail:test`` (test listener only)
answers 500 on ``/`` and 503 on ``/health`` instead; with no running task the listener answers 503.
Every answer is counted per listener and revision (``served``, ``failed``), so a benchmark can show that no
production request ever reached a failing revision.

Control endpoint (server.py): ``GET /envpromote-sandbox/listeners[?cluster=C&service=S]`` -> {"services":
[{"region", "cluster", "service", "listeners": {"test": {"url", "port"}, "production": {...}}, "routing":
{"test": [{"revision", "taskDefinition", "digest", "percent"}], ...}, "requests": {"test": {revision: {"served",
"failed", "digest", "taskDefinition"}}, "production": {...}}}]}; ``DELETE`` zeroes the request counts.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from envpromote.sandbox.deployments import SimDeployment, SimService
    from envpromote.sandbox.simulation import Simulation

LISTENERS = ("test", "production")
NO_REVISION = "(none)"
Key = tuple[str, str, str, str]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


class ListenerHub:
    """Listener servers per service key (account, region, cluster, service), plus request counts."""

    def __init__(self, sim: Simulation, host: str = "127.0.0.1") -> None:
        self.sim = sim
        self.host = host
        self.servers: dict[Key, dict[str, _Server]] = {}
        self.counts: dict[Key, dict[str, dict[str, dict[str, Any]]]] = {}
        self._credit: dict[tuple[Key, str], dict[str, float]] = {}
        self._lock = threading.Lock()

    def open(self, key: Key) -> dict[str, int]:
        """Start the service's two listeners if they are not running yet; returns their ports."""
        with self._lock:
            if key not in self.servers:
                self.servers[key] = {name: self._start(key, name) for name in LISTENERS}
            return {name: server.server_address[1] for name, server in self.servers[key].items()}

    def _start(self, key: Key, listener: str) -> _Server:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = hub.answer(key, listener, self.path.split("?", 1)[0])
                payload = json.dumps(body, sort_keys=True).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        server = _Server((self.host, 0), Handler)
        threading.Thread(
            target=server.serve_forever, daemon=True, name=f"listener-{key[3]}-{listener}"
        ).start()
        return server

    def close(self) -> None:
        with self._lock:
            servers = [s for pair in self.servers.values() for s in pair.values()]
            self.servers.clear()
        for server in servers:
            server.shutdown()
            server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self._credit.clear()

    # ------------------------------------------------------------------ serving
    def _pick(self, key: Key, listener: str, weights: list[tuple[SimDeployment, float]]) -> SimDeployment:
        """Smooth weighted round robin (nginx's): deterministic, and exact over any window of requests."""
        credit = self._credit.setdefault((key, listener), {})
        total = sum(w for _, w in weights)
        best: SimDeployment | None = None
        for d, w in weights:
            credit[d.id] = credit.get(d.id, 0.0) + w
            if best is None or credit[d.id] > credit[best.id]:
                best = d
        assert best is not None
        credit[best.id] -= total
        return best

    def answer(self, key: Key, listener: str, path: str) -> tuple[int, dict[str, Any]]:
        from envpromote.sandbox.simulation import LOCK

        with LOCK:
            self.sim.advance()
            sim = self.sim.services.get(key)
            if sim is None or not self.sim._live(sim):
                return 503, {"error": "no such service in the sandbox (reset?)"}
            weights = self.sim.route(sim, listener)
            if not weights:
                self._count(key, listener, NO_REVISION, None, None, failed=True)
                return 503, {"error": "no healthy targets"}
            with self._lock:
                d = self._pick(key, listener, weights)
            digest = self.sim.revision_digest(sim, d)
            mode = d.scenario.http_fail
            failing = mode == "all" or (mode == "test" and listener == "test")
            self._count(key, listener, d.revision_arn, digest, d.task_definition, failed=failing)
            return _body(sim, d, listener, path, digest, failing)

    def _count(
        self, key: Key, listener: str, revision: str, digest: str | None, td: str | None, *, failed: bool
    ) -> None:
        with self._lock:
            per = self.counts.setdefault(key, {}).setdefault(listener, {})
            entry = per.setdefault(
                revision, {"served": 0, "failed": 0, "digest": digest, "taskDefinition": td}
            )
            entry["served"] += 1
            entry["failed"] += int(failed)

    # ------------------------------------------------------------------ reporting
    def to_json(self, cluster: str | None = None, service: str | None = None) -> list[dict[str, Any]]:
        from envpromote.sandbox.simulation import LOCK

        out = []
        with LOCK:
            self.sim.advance()
            with self._lock:
                keys = list(self.servers)
            for key in keys:
                _, region, cluster_name, service_name = key
                if cluster and cluster.split("/")[-1] != cluster_name:
                    continue
                if service and service.split("/")[-1] != service_name:
                    continue
                sim = self.sim.services.get(key)
                live = sim is not None and self.sim._live(sim)
                with self._lock:
                    ports = {name: s.server_address[1] for name, s in self.servers[key].items()}
                    counts = json.loads(json.dumps(self.counts.get(key, {})))
                out.append(
                    {
                        "region": region,
                        "cluster": cluster_name,
                        "service": service_name,
                        "live": live,
                        "listeners": {
                            name: {"url": f"http://{self.host}:{port}", "port": port}
                            for name, port in ports.items()
                        },
                        "routing": _routing(self.sim, sim) if sim is not None and live else {},
                        "requests": {name: counts.get(name, {}) for name in LISTENERS},
                    }
                )
        return out


def _routing(engine: Simulation, sim: SimService) -> dict[str, list[dict[str, Any]]]:
    routing = {}
    for listener in LISTENERS:
        weights = engine.route(sim, listener)
        total = sum(w for _, w in weights) or 1.0
        routing[listener] = [
            {
                "revision": d.revision_arn,
                "taskDefinition": d.task_definition,
                "digest": engine.revision_digest(sim, d),
                "percent": round(100.0 * w / total, 3),
            }
            for d, w in weights
        ]
    return routing


def _body(
    sim: SimService, d: SimDeployment, listener: str, path: str, digest: str | None, failing: bool
) -> tuple[int, dict[str, Any]]:
    if path.rstrip("/") == "/health":
        if failing:
            return 503, {"status": "failing"}
        return 200, {"status": "ok", "digest": digest, "revision": d.revision_arn}
    if failing:
        return 500, {"error": "Internal Server Error"}
    return 200, {
        "digest": digest,
        "revision": d.revision_arn,
        "taskDefinition": d.task_definition,
        "service": sim.name,
        "listener": listener,
    }


# ---------------------------------------------------------------------------------------------- client side
def listeners(url: str, cluster: str | None = None, service: str | None = None) -> list[dict[str, Any]]:
    """The listeners of the sandbox at `url` (see the module docstring for the shape)."""
    from envpromote.sandbox.process import control

    query = "&".join(f"{k}={v}" for k, v in (("cluster", cluster), ("service", service)) if v)
    result: dict[str, Any] = control(url, "listeners" + (f"?{query}" if query else ""))
    services: list[dict[str, Any]] = result["services"]
    return services


def listener_url(url: str, cluster: str, service: str, listener: str) -> str:
    """``http://127.0.0.1:<port>`` of one service's "test" or "production" listener."""
    found = listeners(url, cluster, service)
    if not found:
        raise LookupError(f"the sandbox has no listeners for {cluster}/{service}")
    return str(found[0]["listeners"][listener]["url"])


def clear_listener_counts(url: str) -> None:
    from envpromote.sandbox.process import control

    control(url, "listeners", method="DELETE")
