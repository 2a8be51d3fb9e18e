"""The one store interface for quarantine and audit; SQLite and PostgreSQL implement it.

`put()` returns only after the item is durably committed: adapters acknowledge a
quarantined message (SMTP 250 / HTTP 202) only after it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class Status(StrEnum):
    HELD = "held"
    RELEASING = "releasing"  # claimed by one reviewer/instance; delivery in progress
    RELEASED = "released"
    RELEASE_FAILED = "release_failed"  # upstream refused; retriable, visible
    REJECTED = "rejected"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class NewItem:
    """What an adapter hands over to quarantine. `content` is encrypted by the store."""

    channel: str  # smtp | chat | api
    sender: str
    recipients: tuple[str, ...]
    route: str | None
    content: bytes  # original bytes: RFC 5322 message or the chat request body
    envelope: dict[str, Any]  # e.g. mail_options, or the chat route name, query string, content type
    findings: list[dict[str, Any]]  # Finding.as_dict() entries (masked preview + hash, no value)
    segments: list[dict[str, Any]]  # {"source", "kind", "text"}: text is encrypted with content
    types: dict[str, int]  # entity type -> count
    severity: str  # low | medium | high
    action: str  # the action that put it here (quarantine)
    rows: list[str]
    explanation: str
    subject: str = ""


@dataclass(frozen=True, slots=True)
class ItemSummary:
    """Queryable metadata: no content, no values."""

    id: str
    status: Status
    channel: str
    created: datetime
    sender: str
    recipients: tuple[str, ...]
    route: str | None
    types: dict[str, int]
    severity: str
    explanation: str
    subject: str = ""
    decided_by: str | None = None
    approvals: tuple[str, ...] = ()
    attempts: int = 0
    last_error: str = ""


@dataclass(frozen=True, slots=True)
class Item:
    """Summary plus decrypted content, for authorised reviewers only."""

    summary: ItemSummary
    content: bytes
    envelope: dict[str, Any]
    findings: list[dict[str, Any]]
    segments: list[dict[str, Any]]
    rows: list[str]
    notes: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    item_id: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class QuarantineStore(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> bool: ...

    async def put(self, item: NewItem) -> str: ...
    async def get(self, item_id: str) -> Item: ...
    async def summary(self, item_id: str) -> ItemSummary: ...
    async def list(
        self, *, status: str | None = None, channel: str | None = None, type: str | None = None,
        limit: int = 50, offset: int = 0,
    ) -> list[ItemSummary]: ...
    async def counts(self) -> dict[str, int]: ...

    async def claim_release(self, item_id: str, actor: str) -> Item: ...
    async def finish_release(self, item_id: str, actor: str, *, ok: bool, error: str = "") -> None: ...
    async def reject(self, item_id: str, actor: str, reason: str) -> None: ...
    async def add_note(self, item_id: str, actor: str, note: str) -> None: ...
    async def purge_expired(self, older_than_days: int, actor: str) -> int: ...

    async def audit(self, actor: str, action: str, item_id: str | None, details: dict[str, Any]) -> None: ...
    async def audit_entries(self) -> list[AuditEntry]: ...
