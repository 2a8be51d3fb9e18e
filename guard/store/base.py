"""The one store interface for quarantine and audit; SQLite and PostgreSQL implement it.

`put()` returns only after the item is durably committed: adapters acknowledge a
quarantined message (SMTP 250 / HTTP 202) only after it returns.

Life of an item (every transition is one transaction that also appends an audit entry):

    held ──claim_release──> releasing ──finish_release(ok)──> released
      │  ^                      └──finish_release(failed)──> release_failed ─┐
      │  └──────────────────────────── claim_release (retry) ────────────────┘
      ├──reject──> rejected
      └──purge_expired──> expired          (content erased; metadata and audit stay)

`claim_release` is the single atomic step that makes delivery happen once: it moves the
item out of held/release_failed only if nobody else has, across processes and instances.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from guard.store.records import Envelope, StoredFinding, StoredSegment

GENESIS = "0" * 64  # prev_hash of the first audit entry


class Status(StrEnum):
    HELD = "held"
    RELEASING = "releasing"  # claimed by one reviewer/instance; delivery in progress
    RELEASED = "released"
    RELEASE_FAILED = "release_failed"  # upstream refused; retriable, visible
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def releasable(self) -> bool:
        return self in (Status.HELD, Status.RELEASE_FAILED)

    @property
    def open(self) -> bool:
        """Still waiting for a reviewer (or a retry)."""
        return self in (Status.HELD, Status.RELEASE_FAILED, Status.RELEASING)


@dataclass(frozen=True, slots=True)
class NewItem:
    """What an adapter hands over to quarantine. `content` is encrypted by the store."""

    channel: str  # smtp | chat | api
    sender: str
    recipients: tuple[str, ...]
    route: str | None
    content: bytes  # original bytes: RFC 5322 message or the chat request body
    envelope: Envelope  # how to deliver it again: MailEnvelope or ChatEnvelope
    findings: list[StoredFinding]  # masked preview + hash, no value
    segments: list[StoredSegment]  # the text is encrypted with the content
    types: dict[str, int]  # entity type -> count
    severity: str  # low | medium | high
    action: str  # the action that put it here (quarantine)
    rows: list[str]
    explanation: str
    subject: str = ""  # as sent; stored encrypted, listed masked


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
    subject: str = ""  # masked: spans that were found anywhere in the message are starred
    decided_by: str | None = None
    approvals: tuple[str, ...] = ()
    attempts: int = 0
    last_error: str = ""  # value-free: error class and reply code only
    updated: datetime | None = None
    decided_at: datetime | None = None
    size: int = 0
    purged: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, value-free (used by the API listing and `quarantine list --format json`)."""
        return {
            "id": self.id,
            "status": self.status.value,
            "channel": self.channel,
            "created": self.created.isoformat(),
            "updated": self.updated.isoformat() if self.updated else None,
            "sender": self.sender,
            "recipients": list(self.recipients),
            "route": self.route,
            "types": dict(self.types),
            "severity": self.severity,
            "explanation": self.explanation,
            "subject": self.subject,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "approvals": list(self.approvals),
            "attempts": self.attempts,
            "last_error": self.last_error,
            "size": self.size,
            "purged": self.purged,
        }


@dataclass(frozen=True, slots=True)
class Item:
    """Summary plus decrypted content, for authorised reviewers only."""

    summary: ItemSummary
    content: bytes
    envelope: Envelope
    findings: list[StoredFinding]
    segments: list[StoredSegment]
    rows: list[str]
    notes: list[dict[str, Any]] = field(default_factory=list)  # {"at", "actor", "note"}
    subject: str = ""  # as sent (decrypted)


@dataclass(slots=True)
class Report:
    """What `verify()` found; `ok` only when there is nothing to report."""

    entries: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "item_id": self.item_id,
            "details": self.details,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


class QuarantineStore(Protocol):
    """Errors: `NotFound` (no such id), `Conflict` (wrong state for the action), `StoreError`."""

    async def open(self) -> None: ...  # connects and runs migrations
    async def close(self) -> None: ...
    async def ping(self) -> bool: ...

    async def put(self, item: NewItem) -> str: ...  # durable on return; audits "quarantine"
    async def get(self, item_id: str) -> Item: ...  # decrypts; callers audit who viewed it
    async def summary(self, item_id: str) -> ItemSummary: ...
    async def list(
        self,
        *,
        status: str | None = None,
        channel: str | None = None,
        type: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[ItemSummary]: ...  # newest first
    async def count(
        self, *, status: str | None = None, channel: str | None = None, type: str | None = None
    ) -> int: ...
    async def counts(self) -> dict[str, int]: ...  # status -> n
    async def type_counts(self, *, status: str | None = None) -> dict[str, int]: ...  # entity type -> n
    async def oldest(self, status: str) -> datetime | None: ...
    async def oldest_held_age_s(self) -> float | None: ...  # for the backlog gauge

    async def claim_release(self, item_id: str, actor: str, *, reason: str = "") -> Item: ...
    async def finish_release(self, item_id: str, actor: str, *, ok: bool, error: str = "") -> None: ...
    async def approve(self, item_id: str, actor: str) -> ItemSummary: ...  # four-eyes approval
    async def reject(self, item_id: str, actor: str, reason: str) -> None: ...
    async def add_note(self, item_id: str, actor: str, note: str) -> None: ...
    async def purge_expired(self, older_than_days: int, actor: str) -> int: ...

    async def audit(self, actor: str, action: str, item_id: str | None, details: dict[str, Any]) -> None: ...
    async def audit_many(
        self, actor: str, entries: builtins.list[tuple[str, str | None, dict[str, Any]]]
    ) -> None: ...
    async def audit_entries(
        self, *, item_id: str | None = None, limit: int | None = None
    ) -> builtins.list[AuditEntry]: ...  # `list` names a method in this class
    async def audit_verify(self) -> Report: ...
