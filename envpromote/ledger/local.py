"""Local copies of records, and drafts kept after a failed ledger write (``<local_dir>/pending/``)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from envpromote.errors import PreflightFailed
from envpromote.ledger.records import Record
from envpromote.ledger.store import Ledger


class LocalRecords:
    """The local JSON copies: one file per record, plus drafts still waiting for the ledger."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def pending_dir(self) -> Path:
        return self.directory / "pending"

    def write(self, record: Mapping[str, Any]) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{record['environment']}-{record['sequence']:06d}-{record['record_id']}.json"
        _write_atomically(path, record)
        return path

    def ensure_writable(self) -> None:
        """Refuse before any change if the local copy could not be written afterwards."""
        try:
            self.pending_dir.mkdir(parents=True, exist_ok=True)
            probe = self.pending_dir / f".probe-{uuid.uuid4().hex}"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise PreflightFailed(
                f"Cannot write release records under {self.directory}: {exc.strerror or exc}.",
                fix="Pass a writable --records-dir or fix [ledger] local_dir.",
            ) from None

    def keep_pending(self, draft: Mapping[str, Any]) -> Path:
        """Atomically (write + rename), so a killed process never leaves half a draft."""
        self.pending_dir.mkdir(parents=True, exist_ok=True)
        path = self.pending_dir / f"{draft['finished_at'].replace(':', '')}-{draft['record_id']}.json"
        _write_atomically(path, draft)
        return path

    def pending(self) -> list[tuple[Path, Record]]:
        """Drafts waiting for the ledger, oldest first; an unreadable file is set aside, not fatal."""
        if not self.pending_dir.is_dir():
            return []
        drafts = []
        for path in sorted(self.pending_dir.glob("*.json")):
            try:
                drafts.append((path, json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError):
                path.rename(path.with_suffix(".corrupt"))
        return drafts


def _write_atomically(path: Path, record: Mapping[str, Any]) -> None:
    # Serialise first: a value that cannot be encoded fails here, before any file exists (no empty .partial).
    data = (json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def sync_pending(ledger: Ledger, local: LocalRecords) -> list[Record]:
    """Send drafts kept after a failed ledger write, oldest first; each is removed only once stored.

    Each goes through `Ledger.append_kept`: a resolution takes its intent's place in history, and a draft
    without an intent that is older than records already stored is marked ``orders_before`` (never silently
    ordered after newer releases)."""
    sent: list[Record] = []
    for path, draft in local.pending():
        record = ledger.append_kept(draft)
        local.write(record)
        path.unlink()
        sent.append(record)
    return sent
