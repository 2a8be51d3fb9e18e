"""The audit trail's hash chain: every entry commits to the one before it.

    hash(n) = SHA-256( hash(n-1) || canonical JSON of {seq, at, actor, action, item_id, details} )

Entries are numbered 1, 2, 3… with no gaps, and the store keeps a separate head record
(last seq and hash) updated in the same transaction as each append. So `verify()` finds:
  - an edited entry (its hash no longer matches its content),
  - a deleted entry in the middle (a gap in seq, and a broken prev_hash link),
  - deleted entries at the end (the head names a seq/hash the table no longer has),
  - a re-hashed rewrite of the whole table, if the operator keeps the printed head hash
    somewhere else (anchor it in a ticket or a log shipped off the host).
Details never hold a sensitive value: callers pass types, counts, ids, reasons.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from guard.store.base import GENESIS, AuditEntry, Report


def now_iso() -> str:
    """UTC timestamp with microseconds; the exact string is hashed, so it is stored as text."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def canonical(details: dict[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(
    prev_hash: str, seq: int, at: str, actor: str, action: str, item_id: str | None, details_json: str
) -> str:
    body = json.dumps(
        {"seq": seq, "at": at, "actor": actor, "action": action, "item_id": item_id, "details": details_json},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Row:
    """One audit row as stored (details as its canonical JSON text)."""

    seq: int
    at: str
    actor: str
    action: str
    item_id: str | None
    details: str
    prev_hash: str
    hash: str

    def entry(self) -> AuditEntry:
        try:
            details = json.loads(self.details)
        except ValueError:
            details = {"unparsable": True}
        return AuditEntry(
            seq=self.seq,
            at=parse_iso(self.at),
            actor=self.actor,
            action=self.action,
            item_id=self.item_id,
            details=details,
            prev_hash=self.prev_hash,
            hash=self.hash,
        )


def verify(rows: Iterable[Row], head: tuple[int, str] | None) -> Report:
    """Check the chain link by link and against the head record."""
    report = Report()
    expected_seq = 1
    prev = GENESIS
    for row in rows:
        report.entries += 1
        if row.seq != expected_seq:
            if row.seq > expected_seq:
                missing = (
                    f"{expected_seq}" if row.seq == expected_seq + 1 else f"{expected_seq}-{row.seq - 1}"
                )
                report.problems.append(f"entry {missing} missing (deleted?) before entry {row.seq}")
            else:
                report.problems.append(f"entry {row.seq} out of order after {expected_seq - 1}")
        if row.prev_hash != prev:
            report.problems.append(f"entry {row.seq}: link to the previous entry is broken")
        actual = entry_hash(row.prev_hash, row.seq, row.at, row.actor, row.action, row.item_id, row.details)
        if actual != row.hash:
            report.problems.append(f"entry {row.seq}: content does not match its hash (edited?)")
        prev = row.hash
        expected_seq = row.seq + 1
    last_seq = expected_seq - 1
    report.head_seq, report.head_hash = last_seq, prev
    if head is None:
        if report.entries:
            report.problems.append("head record missing")
    else:
        head_seq, head_hash = head
        if head_seq != last_seq or head_hash != prev:
            if head_seq > last_seq:
                report.problems.append(
                    f"head record names entry {head_seq} but the log ends at {last_seq} (entries deleted?)"
                )
            else:
                report.problems.append("head record does not match the last entry (log or head edited?)")
        report.head_seq, report.head_hash = head_seq, head_hash
    return report
