"""The one place boto3 clients are made.

Endpoints are never special-cased: boto3 already honours ``AWS_ENDPOINT_URL`` and the per-service
``AWS_ENDPOINT_URL_<SERVICE>`` variables, which is how the same code reaches the local sandbox.
Every client made here counts its API calls (and retries) so that tasks can report them.

Start-up cost (issue 13): botocore parses each service's JSON model when a session makes its first client of
that service (50-150 ms for S3, 15-40 ms for ECS/IAM on this machine). All sessions made here share one data
loader, so a process parses each model once however many factories (regions, assumed roles) it has. And at
exit, the objects alive then (boto3's models, mostly) are frozen out of the interpreter's final collection
(`gc.freeze`): a process with boto3 loaded spent 100-250 ms tearing down, more than many of its API calls.
"""

from __future__ import annotations

import atexit
import gc
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions
import botocore.session
from botocore.config import Config

from envpromote.errors import BadInput, PreflightFailed

DEFAULT_MAX_ATTEMPTS = 8

_shared: dict[str, Any] = {}  # "loader": the one botocore data loader of this process
_shared_lock = threading.Lock()


def new_session(**kwargs: Any) -> boto3.session.Session:
    """A boto3 session (its own credentials, region and config, as ever) on the process's one data loader."""
    with _shared_lock:
        core = botocore.session.get_session()
        loader = _shared.get("loader")
        if loader is not None:
            core.register_component("data_loader", loader)
        session = boto3.session.Session(botocore_session=core, **kwargs)
        loader = core.get_component("data_loader")
        # boto3 appends its own data path to the loader for every session: keep each path once.
        loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
        _shared["loader"] = loader
        return session


def service_model(service: str) -> Any:
    """botocore's model of `service` (a ``botocore.model.ServiceModel``) from the process's one loader: the
    JSON its clients parsed, not a second parse (e.g. for validating a rendered task definition offline)."""
    return new_session()._session.get_service_model(service)


def _skip_final_collection() -> None:
    gc.freeze()  # the process is ending: nothing left is worth a full collection of boto3's models


atexit.register(_skip_final_collection)


@dataclass
class ApiCallCounter:
    """Counts HTTP requests per service/operation; retries are the requests beyond the first of a call."""

    calls: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record_call(self, service: str, operation: str) -> None:
        with self._lock:
            self.calls[f"{service}:{operation}"] += 1

    def record_request(self, service: str, operation: str) -> None:
        with self._lock:
            self.requests[f"{service}:{operation}"] += 1

    @property
    def retries(self) -> int:
        with self._lock:
            return sum(self.requests.values()) - sum(self.calls.values())

    def total(self, service: str | None = None) -> int:
        """HTTP requests sent (retries included), for one service or all."""
        with self._lock:
            if service is None:
                return sum(self.requests.values())
            return sum(n for key, n in self.requests.items() if key.startswith(f"{service}:"))


class ClientFactory:
    """Makes boto3 clients for one region (and, optionally, one assumed role).

    Retries use botocore's ``adaptive`` mode, which rate-limits the client itself after throttling.
    """

    def __init__(
        self,
        region: str,
        *,
        role_arn: str | None = None,
        session_name: str = "envpromote",
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        counter: ApiCallCounter | None = None,
        session: boto3.session.Session | None = None,
    ) -> None:
        self.region = region
        self.role_arn = role_arn
        self.session_name = session_name
        self.counter = counter or ApiCallCounter()
        self._config = Config(
            region_name=region,
            retries={"mode": "adaptive", "max_attempts": max_attempts},
            connect_timeout=5,
            read_timeout=30,
            user_agent_extra="envpromote",
        )
        self._base_session = session or new_session()
        self._session: boto3.session.Session | None = None
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _resolved_session(self) -> boto3.session.Session:
        if self._session is not None:
            return self._session
        if self._base_session.get_credentials() is None:
            raise BadInput(
                "No AWS credentials found.",
                fix="Set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, use OIDC in CI, "
                "or run 'invoke sandbox.up' and export what 'invoke sandbox.env' prints.",
            )
        if not self.role_arn:
            self._session = self._base_session
            return self._session
        sts = self._base_session.client("sts", config=self._config)
        try:
            creds = sts.assume_role(RoleArn=self.role_arn, RoleSessionName=self.session_name)["Credentials"]
        except botocore.exceptions.ClientError as exc:
            raise PreflightFailed(
                f"Cannot assume role {self.role_arn}: {exc.response['Error'].get('Message', exc)}",
                fix="Check the environment's role_arn in envpromote.toml and the role's trust policy.",
            ) from exc
        self._session = new_session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=self.region,
        )
        return self._session

    def client(self, service: str) -> Any:
        """A cached, call-counting client for `service`."""
        made = self._clients.get(service)  # a made client is returned without waiting for another's creation
        if made is not None:
            return made
        with self._lock:
            if service in self._clients:
                return self._clients[service]
            client = self._resolved_session().client(service, config=self._config)
            counter = self.counter

            def _count_call(model: Any, **_: Any) -> None:
                counter.record_call(service, model.name)

            def _count_request(event_name: str, **_: Any) -> None:
                # event_name is "before-send.<service-id>.<Operation>".
                counter.record_request(service, event_name.rsplit(".", 1)[-1])

            client.meta.events.register("before-call", _count_call)
            # before-send fires once per HTTP attempt, so retries are counted too.
            client.meta.events.register("before-send", _count_request)
            self._clients[service] = client
            return client
