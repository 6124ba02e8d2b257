"""One promotion per environment at a time: a DynamoDB lease taken by conditional write.

The item ``{lock_id: <env>, holder, token, acquired_at, expires_at}`` is written only if no item exists or the
existing lease has expired, so two promotions can never both hold it, and a crashed holder blocks the
environment only until its lease expires. Release deletes the item only if our token still owns it.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from envpromote.config import LockSettings
from envpromote.errors import EnvironmentLocked, PreflightFailed


@dataclass(frozen=True)
class Lease:
    environment: str
    holder: str
    token: str
    expires_at: float


def _fmt(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EnvironmentLock:
    def __init__(
        self, dynamodb: Any, settings: LockSettings, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.dynamodb = dynamodb
        self.settings = settings
        self.clock = clock

    def acquire(self, environment: str, holder: str, *, lease_seconds: int | None = None) -> Lease:
        now = self.clock()
        lease = Lease(
            environment=environment,
            holder=holder,
            token=uuid.uuid4().hex,
            expires_at=now + (lease_seconds or self.settings.lease_seconds),
        )
        try:
            self.dynamodb.put_item(
                TableName=self.settings.table,
                Item={
                    "lock_id": {"S": environment},
                    "holder": {"S": holder},
                    "token": {"S": lease.token},
                    "acquired_at": {"N": f"{now:.3f}"},
                    "expires_at": {"N": f"{lease.expires_at:.3f}"},
                },
                ConditionExpression="attribute_not_exists(lock_id) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": f"{now:.3f}"}},
            )
        except botocore.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "ConditionalCheckFailedException":
                current = self.holder(environment)
                who = current.holder if current else "another promotion"
                until = f" until {_fmt(current.expires_at)}" if current else ""
                raise EnvironmentLocked(
                    f"Environment {environment} is locked by {who}{until}.",
                    fix="Wait for that promotion to finish (or its lease to expire); "
                    "never delete the lock while it runs.",
                ) from None
            if code == "ResourceNotFoundException":
                raise PreflightFailed(
                    f"Lock table {self.settings.table} does not exist.",
                    fix="Apply infra (modules/ledger) or check [lock] table/region in envpromote.toml.",
                ) from None
            raise
        return lease

    def ensure_free(self, environment: str) -> None:
        """Read-only check before planning: refuse early (and name the holder) if a live lease exists."""
        current = self.holder(environment)
        if current is not None and current.expires_at > self.clock():
            raise EnvironmentLocked(
                f"Environment {environment} is locked by {current.holder} until {_fmt(current.expires_at)}.",
                fix="Wait for that promotion to finish (or its lease to expire); never delete the lock while it runs.",
            )

    def holder(self, environment: str) -> Lease | None:
        try:
            item = self.dynamodb.get_item(
                TableName=self.settings.table, Key={"lock_id": {"S": environment}}, ConsistentRead=True
            ).get("Item")
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                raise PreflightFailed(
                    f"Lock table {self.settings.table} does not exist.",
                    fix="Apply infra (modules/ledger) or check [lock] table/region in envpromote.toml.",
                ) from None
            raise
        if not item:
            return None
        return Lease(
            environment=environment,
            holder=item.get("holder", {}).get("S", "unknown"),
            token=item.get("token", {}).get("S", ""),
            expires_at=float(item.get("expires_at", {}).get("N", "0")),
        )

    def release(self, lease: Lease) -> bool:
        """Delete the lock if we still own it; False when it had already passed to someone else."""
        try:
            self.dynamodb.delete_item(
                TableName=self.settings.table,
                Key={"lock_id": {"S": lease.environment}},
                ConditionExpression="#t = :token",
                ExpressionAttributeNames={"#t": "token"},
                ExpressionAttributeValues={":token": {"S": lease.token}},
            )
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
