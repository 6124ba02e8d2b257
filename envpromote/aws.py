"""The one place boto3 clients are made.

Endpoints are never special-cased: boto3 already honours ``AWS_ENDPOINT_URL`` and the per-service
``AWS_ENDPOINT_URL_<SERVICE>`` variables, which is how the same code reaches the local sandbox.
Every client made here counts its API calls (and retries) so that tasks can report them.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from envpromote.errors import BadInput, PreflightFailed

DEFAULT_MAX_ATTEMPTS = 8


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
        self._base_session = session or boto3.session.Session()
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
        self._session = boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=self.region,
        )
        return self._session

    def client(self, service: str) -> Any:
        """A cached, call-counting client for `service`."""
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
