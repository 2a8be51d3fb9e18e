"""The store's logic, written once in portable SQL; `SqliteStore` and `PostgresStore` only
supply connections and transactions.

SQL here uses `%s` placeholders (psycopg's); the SQLite cursor translates them. Every state
change and its audit entry commit in one transaction. Content, envelope, findings with
offsets, extracted text, the real subject and notes are sealed with the keyring (row id as
associated data); the columns in clear are the queryable, value-free metadata.
"""

from __future__ import annotations

import abc
import base64
import json
import re
import secrets
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import guard.store.audit as chain
from guard.errors import Conflict, NotFound, Reason, StoreError
from guard.inspection.mask import mask_known
from guard.store.audit import now_iso, parse_iso
from guard.store.base import AuditEntry, Item, ItemSummary, NewItem, Report, Status
from guard.store.crypto import Keyring
from guard.store.records import StoredFinding, StoredSegment, envelope_from_dict, found_values

if TYPE_CHECKING:
    from guard.config import Settings

_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
_ID_LEN = 8
_ID_RE = re.compile(rf"^Q-[{_ID_ALPHABET}]{{{_ID_LEN}}}$")

SUMMARY_COLUMNS = (
    "id, status, channel, created, updated, sender, recipients, route, types, severity, explanation, "
    "subject, decided_by, decided_at, approvals, attempts, last_error, size, purged_at"
)
_RELEASABLE = (Status.HELD.value, Status.RELEASE_FAILED.value)


class Cursor(Protocol):
    """The part of a DB-API cursor the store uses, made awaitable."""

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    async def executemany(self, sql: str, params_seq: Sequence[Sequence[Any]]) -> Any: ...
    async def fetchone(self) -> Any: ...
    async def fetchall(self) -> list[Any]: ...


def new_id() -> str:
    return "Q-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LEN))


def normalise_id(item_id: str) -> str:
    """Accept `q-7f3k2…` as typed by a person; anything unlike an id is simply not found."""
    return item_id.strip().upper()


def mask_subject(subject: str, segments: Sequence[StoredSegment], findings: Sequence[StoredFinding]) -> str:
    """The subject with every value found anywhere in the message starred, plus long digit runs.

    Stored in clear for the queue listing, so it errs on the side of starring too much.
    """
    return mask_known(subject, {v: "*" * len(v) for v in found_values(segments, findings)})


def _loads(value: Any, default: Any) -> Any:
    if value is None:
        return default
    return json.loads(value)


def _dt(value: str | None) -> datetime | None:
    return parse_iso(value) if value else None


def _summary(row: Sequence[Any]) -> ItemSummary:
    (
        item_id,
        status,
        channel,
        created,
        updated,
        sender,
        recipients,
        route,
        types,
        severity,
        explanation,
        subject,
        decided_by,
        decided_at,
        approvals,
        attempts,
        last_error,
        size,
        purged_at,
    ) = row[:19]
    return ItemSummary(
        id=item_id,
        status=Status(status),
        channel=channel,
        created=parse_iso(created),
        sender=sender,
        recipients=tuple(_loads(recipients, [])),
        route=route,
        types=dict(_loads(types, {})),
        severity=severity,
        explanation=explanation,
        subject=subject,
        decided_by=decided_by,
        approvals=tuple(_loads(approvals, [])),
        attempts=int(attempts),
        last_error=last_error,
        updated=_dt(updated),
        decided_at=_dt(decided_at),
        size=int(size),
        purged=purged_at is not None,
    )


class SqlStore(abc.ABC):
    """Shared implementation of `QuarantineStore` over a DB-API-like async cursor."""

    dialect: str = ""
    for_update: str = ""  # row lock clause where the database has one

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._keyring: Keyring | None = None

    # -- backend hooks -------------------------------------------------------------------
    @abc.abstractmethod
    async def _connect(self) -> None: ...

    @abc.abstractmethod
    async def _disconnect(self) -> None: ...

    @abc.abstractmethod
    def _tx(self) -> AbstractAsyncContextManager[Cursor]:
        """A write transaction (committed on clean exit, rolled back on error)."""

    @abc.abstractmethod
    async def _migrate(self) -> None: ...

    # -- life cycle ----------------------------------------------------------------------
    @property
    def keyring(self) -> Keyring:
        if self._keyring is None:
            raise StoreError("store is not open")
        return self._keyring

    async def open(self) -> None:
        self._keyring = Keyring.from_settings(self.settings)
        await self._connect()
        await self._migrate()

    async def close(self) -> None:
        await self._disconnect()

    async def ping(self) -> bool:
        async with self._tx() as cur:
            await cur.execute("SELECT 1")
            row = await cur.fetchone()
        return bool(row and row[0] == 1)

    async def _apply_migrations(self, cur: Cursor) -> None:
        """Called by backends inside a transaction that excludes other migrators."""
        import guard.store.migrations as migrations

        await cur.execute(migrations.VERSION_TABLE)
        await cur.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        row = await cur.fetchone()
        current = int(row[0]) if row else 0
        if current > migrations.LATEST:
            raise StoreError(
                f"database schema version {current} is newer than this guard ({migrations.LATEST})"
            )
        for version, statements in migrations.pending(current, self.dialect):
            for sql in statements:
                await cur.execute(sql)
            await cur.execute(
                "INSERT INTO schema_version (version, applied) VALUES (%s, %s)", (version, now_iso())
            )

    # -- sealing -------------------------------------------------------------------------
    def _seal(self, item_id: str, data: dict[str, Any]) -> tuple[str, bytes]:
        return self.keyring.encrypt(json.dumps(data, ensure_ascii=False).encode("utf-8"), item_id)

    def _open_sealed(self, item_id: str, key_id: str, blob: bytes) -> dict[str, Any]:
        return dict(json.loads(self.keyring.decrypt(key_id, bytes(blob), item_id)))

    # -- audit chain ---------------------------------------------------------------------
    async def _append(
        self, cur: Cursor, actor: str, action: str, item_id: str | None, details: dict[str, Any]
    ) -> None:
        await cur.execute(f"SELECT seq, hash FROM audit_head WHERE id = 1{self.for_update}")
        head = await cur.fetchone()
        if head is None:
            raise StoreError("audit head record is missing; run `guard audit verify`")
        seq, prev = int(head[0]) + 1, str(head[1])
        at, body = now_iso(), chain.canonical(details)
        digest = chain.entry_hash(prev, seq, at, actor, action, item_id, body)
        await cur.execute(
            "INSERT INTO audit (seq, at, actor, action, item_id, details, prev_hash, hash) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (seq, at, actor, action, item_id, body, prev, digest),
        )
        await cur.execute("UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1", (seq, digest))

    async def audit(self, actor: str, action: str, item_id: str | None, details: dict[str, Any]) -> None:
        async with self._tx() as cur:
            await self._append(cur, actor, action, item_id, details)

    async def audit_many(self, actor: str, entries: list[tuple[str, str | None, dict[str, Any]]]) -> None:
        """Append several entries in one transaction (one commit, one fsync), in order: the
        chain is computed here and the rows go in with one executemany."""
        if not entries:
            return
        async with self._tx() as cur:
            await cur.execute(f"SELECT seq, hash FROM audit_head WHERE id = 1{self.for_update}")
            head = await cur.fetchone()
            if head is None:
                raise StoreError("audit head record is missing; run `guard audit verify`")
            seq, prev = int(head[0]), str(head[1])
            rows = []
            for action, item_id, details in entries:
                seq += 1
                at, body = now_iso(), chain.canonical(details)
                digest = chain.entry_hash(prev, seq, at, actor, action, item_id, body)
                rows.append((seq, at, actor, action, item_id, body, prev, digest))
                prev = digest
            await cur.executemany(
                "INSERT INTO audit (seq, at, actor, action, item_id, details, prev_hash, hash) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
            await cur.execute("UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1", (seq, prev))

    async def audit_entries(
        self, *, item_id: str | None = None, limit: int | None = None
    ) -> list[AuditEntry]:
        sql = "SELECT seq, at, actor, action, item_id, details, prev_hash, hash FROM audit"
        params: list[Any] = []
        if item_id is not None:
            sql += " WHERE item_id = %s"
            params.append(normalise_id(item_id))
        sql += " ORDER BY seq DESC" if limit else " ORDER BY seq"
        if limit:
            sql += " LIMIT %s"
            params.append(int(limit))
        async with self._tx() as cur:
            await cur.execute(sql, params)
            rows = await cur.fetchall()
        entries = [chain.Row(*r).entry() for r in rows]
        return sorted(entries, key=lambda e: e.seq)

    async def audit_verify(self) -> Report:
        async with self._tx() as cur:
            await cur.execute("SELECT seq, hash FROM audit_head WHERE id = 1")
            head = await cur.fetchone()
            await cur.execute(
                "SELECT seq, at, actor, action, item_id, details, prev_hash, hash FROM audit ORDER BY seq"
            )
            rows = await cur.fetchall()
        return chain.verify(
            (chain.Row(int(r[0]), *r[1:]) for r in rows), (int(head[0]), str(head[1])) if head else None
        )

    # -- items ---------------------------------------------------------------------------
    async def put(self, item: NewItem) -> str:
        now = now_iso()
        types = {str(k): int(v) for k, v in sorted(item.types.items())}
        sealed = {
            "v": 1,
            "content": base64.b64encode(item.content).decode("ascii"),
            "envelope": item.envelope.as_dict(),
            "findings": [f.as_dict() for f in item.findings],
            "segments": [s.as_dict() for s in item.segments],
            "rows": list(item.rows),
            "subject": item.subject,
        }
        subject = mask_subject(item.subject, item.segments, item.findings)
        for _ in range(8):
            item_id = new_id()
            key_id, blob = self._seal(item_id, sealed)
            async with self._tx() as cur:
                await cur.execute(
                    "INSERT INTO items (id, created, updated, status, channel, sender, recipients, route, "
                    "types, types_index, severity, explanation, subject, size, key_id, payload, approvals) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (id) DO NOTHING RETURNING id",
                    (
                        item_id,
                        now,
                        now,
                        Status.HELD.value,
                        item.channel,
                        item.sender,
                        json.dumps(list(item.recipients)),
                        item.route,
                        json.dumps(types),
                        "," + ",".join(types) + ",",
                        item.severity,
                        item.explanation,
                        subject,
                        len(item.content),
                        key_id,
                        blob,
                        "[]",
                    ),
                )
                if await cur.fetchone() is None:
                    continue  # id collision: nothing written, try another
                await self._append(
                    cur,
                    "guard",
                    "quarantine",
                    item_id,
                    {
                        "channel": item.channel,
                        "route": item.route,
                        "types": types,
                        "severity": item.severity,
                        "action": item.action,
                        "rows": list(item.rows),
                        "size": len(item.content),
                    },
                )
            return item_id
        raise StoreError("could not allocate a quarantine id")

    async def _status(self, cur: Cursor, item_id: str) -> Status:
        await cur.execute("SELECT status FROM items WHERE id = %s", (item_id,))
        row = await cur.fetchone()
        if row is None:
            raise NotFound(f"no quarantine item {item_id}")
        return Status(row[0])

    async def summary(self, item_id: str) -> ItemSummary:
        item_id = normalise_id(item_id)
        async with self._tx() as cur:
            await cur.execute(f"SELECT {SUMMARY_COLUMNS} FROM items WHERE id = %s", (item_id,))
            row = await cur.fetchone()
        if row is None:
            raise NotFound(f"no quarantine item {item_id}")
        return _summary(row)

    def _item(self, row: Sequence[Any], notes: list[dict[str, Any]]) -> Item:
        summary = _summary(row)
        key_id, blob = row[19], row[20]
        if blob is None:
            return Item(
                summary=summary,
                content=b"",
                envelope=envelope_from_dict(summary.channel, None),
                findings=[],
                segments=[],
                rows=[],
                notes=notes,
            )
        data = self._open_sealed(summary.id, key_id, blob)
        return Item(
            summary=summary,
            content=base64.b64decode(data["content"]),
            envelope=envelope_from_dict(summary.channel, data.get("envelope")),
            findings=[StoredFinding.from_dict(f) for f in data.get("findings") or []],
            segments=[StoredSegment.from_dict(s) for s in data.get("segments") or []],
            rows=list(data.get("rows") or []),
            notes=notes,
            subject=str(data.get("subject") or ""),
        )

    async def _notes(self, cur: Cursor, item_id: str) -> list[dict[str, Any]]:
        await cur.execute(
            "SELECT id, at, actor, key_id, payload FROM notes WHERE item_id = %s ORDER BY id", (item_id,)
        )
        out = []
        for note_id, at, actor, key_id, blob in await cur.fetchall():
            text = self.keyring.decrypt(key_id, bytes(blob), f"{item_id}/note/{at}").decode("utf-8")
            out.append({"id": note_id, "at": parse_iso(at), "actor": actor, "note": text})
        return out

    async def get(self, item_id: str) -> Item:
        item_id = normalise_id(item_id)
        async with self._tx() as cur:
            await cur.execute(
                f"SELECT {SUMMARY_COLUMNS}, key_id, payload FROM items WHERE id = %s", (item_id,)
            )
            row = await cur.fetchone()
            if row is None:
                raise NotFound(f"no quarantine item {item_id}")
            notes = await self._notes(cur, item_id)
        return self._item(row, notes)

    @staticmethod
    def _where(status: str | None, channel: str | None, type: str | None) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if status:
            clauses.append("status = %s")
            params.append(Status(status).value)
        if channel:
            clauses.append("channel = %s")
            params.append(channel)
        if type:
            clauses.append("types_index LIKE %s")
            # types_index is ",A,B,"; entity names are [A-Z_] ("_" matching any one character is harmless)
            params.append("%," + re.sub(r"[^A-Z0-9_]", "", type.upper()) + ",%")
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        return where, params

    async def list(
        self,
        *,
        status: str | None = None,
        channel: str | None = None,
        type: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[ItemSummary]:
        where, params = self._where(status, channel, type)
        params += [max(1, min(int(limit), 1000)), max(0, int(offset))]
        async with self._tx() as cur:
            await cur.execute(
                f"SELECT {SUMMARY_COLUMNS} FROM items{where} "
                "ORDER BY created DESC, id DESC LIMIT %s OFFSET %s",
                params,
            )
            rows = await cur.fetchall()
        return [_summary(r) for r in rows]

    async def count(
        self, *, status: str | None = None, channel: str | None = None, type: str | None = None
    ) -> int:
        where, params = self._where(status, channel, type)
        async with self._tx() as cur:
            await cur.execute(f"SELECT COUNT(*) FROM items{where}", params)
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def counts(self) -> dict[str, int]:
        async with self._tx() as cur:
            await cur.execute("SELECT status, COUNT(*) FROM items GROUP BY status")
            rows = await cur.fetchall()
        found = {str(s): int(n) for s, n in rows}
        return {s.value: found.get(s.value, 0) for s in Status}

    async def type_counts(self, *, status: str | None = None) -> dict[str, int]:
        where, params = self._where(status, None, None)
        async with self._tx() as cur:
            await cur.execute(f"SELECT types FROM items{where}", params)
            rows = await cur.fetchall()
        totals: dict[str, int] = {}
        for (types,) in rows:
            for name, n in json.loads(types).items():
                totals[name] = totals.get(name, 0) + int(n)
        return dict(sorted(totals.items()))

    async def oldest(self, status: str) -> datetime | None:
        async with self._tx() as cur:
            await cur.execute("SELECT MIN(created) FROM items WHERE status = %s", (Status(status).value,))
            row = await cur.fetchone()
        return parse_iso(row[0]) if row and row[0] else None

    async def oldest_held_age_s(self) -> float | None:
        """Seconds since the oldest held item arrived (read by the metrics refresher)."""
        oldest = await self.oldest(Status.HELD.value)
        return None if oldest is None else (datetime.now(UTC) - oldest).total_seconds()

    # -- transitions ---------------------------------------------------------------------
    async def claim_release(self, item_id: str, actor: str, *, reason: str = "") -> Item:
        item_id = normalise_id(item_id)
        now = now_iso()
        async with self._tx() as cur:
            await cur.execute(
                "UPDATE items SET status = %s, claimed_by = %s, claimed_at = %s, updated = %s, "
                "attempts = attempts + 1 WHERE id = %s AND status IN (%s, %s) AND payload IS NOT NULL "
                f"RETURNING {SUMMARY_COLUMNS}, key_id, payload",
                (Status.RELEASING.value, actor, now, now, item_id, *_RELEASABLE),
            )
            row = await cur.fetchone()
            if row is None:
                status = await self._status(cur, item_id)
                raise Conflict(
                    f"{item_id} is {status.value}; only held or release_failed items can be released"
                )
            await self._append(
                cur, actor, "release_claimed", item_id, {"reason": reason, "attempt": int(row[15])}
            )
            notes = await self._notes(cur, item_id)
        return self._item(row, notes)

    async def finish_release(self, item_id: str, actor: str, *, ok: bool, error: str = "") -> None:
        item_id = normalise_id(item_id)
        now = now_iso()
        status = Status.RELEASED if ok else Status.RELEASE_FAILED
        async with self._tx() as cur:
            await cur.execute(
                "UPDATE items SET status = %s, updated = %s, last_error = %s, "
                "decided_by = CASE WHEN %s THEN %s ELSE decided_by END, "
                "decided_at = CASE WHEN %s THEN %s ELSE decided_at END "
                "WHERE id = %s AND status = %s RETURNING id",
                (status.value, now, error[:300], ok, actor, ok, now, item_id, Status.RELEASING.value),
            )
            if await cur.fetchone() is None:
                current = await self._status(cur, item_id)
                raise Conflict(f"{item_id} is {current.value}, not releasing")
            details = {"error" if not ok else "note": error[:300]} if error else {}
            await self._append(cur, actor, "released" if ok else "release_failed", item_id, details)

    async def approve(self, item_id: str, actor: str) -> ItemSummary:
        item_id = normalise_id(item_id)
        async with self._tx() as cur:
            await cur.execute(
                f"SELECT {SUMMARY_COLUMNS} FROM items WHERE id = %s{self.for_update}", (item_id,)
            )
            row = await cur.fetchone()
            if row is None:
                raise NotFound(f"no quarantine item {item_id}")
            summary = _summary(row)
            if not summary.status.releasable:
                raise Conflict(f"{item_id} is {summary.status.value}; nothing to approve")
            if actor in summary.approvals:
                raise Conflict(f"{actor} already approved {item_id}", reason=Reason.ALREADY_APPROVED)
            approvals = [*summary.approvals, actor]
            await cur.execute(
                "UPDATE items SET approvals = %s, updated = %s WHERE id = %s",
                (json.dumps(approvals), now_iso(), item_id),
            )
            await self._append(cur, actor, "approved", item_id, {"approvals": len(approvals)})
        return await self.summary(item_id)

    async def reject(self, item_id: str, actor: str, reason: str) -> None:
        item_id = normalise_id(item_id)
        now = now_iso()
        async with self._tx() as cur:
            await cur.execute(
                "UPDATE items SET status = %s, updated = %s, decided_by = %s, decided_at = %s "
                "WHERE id = %s AND status IN (%s, %s) RETURNING id",
                (Status.REJECTED.value, now, actor, now, item_id, *_RELEASABLE),
            )
            if await cur.fetchone() is None:
                status = await self._status(cur, item_id)
                raise Conflict(
                    f"{item_id} is {status.value}; only held or release_failed items can be rejected"
                )
            await self._append(cur, actor, "rejected", item_id, {"reason": reason})

    async def add_note(self, item_id: str, actor: str, note: str) -> None:
        item_id = normalise_id(item_id)
        at = now_iso()
        key_id, blob = self.keyring.encrypt(note.encode("utf-8"), f"{item_id}/note/{at}")
        async with self._tx() as cur:
            await self._status(cur, item_id)
            await cur.execute(
                "INSERT INTO notes (item_id, at, actor, key_id, payload) VALUES (%s, %s, %s, %s, %s)",
                (item_id, at, actor, key_id, blob),
            )
            await self._append(cur, actor, "note", item_id, {"chars": len(note)})

    async def purge_expired(self, older_than_days: int, actor: str) -> int:
        """Expire undecided items and erase the content of decided ones, older than the cut-off."""
        now = now_iso()
        cutoff = (datetime.now(UTC) - timedelta(days=older_than_days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        async with self._tx() as cur:
            await cur.execute(
                "UPDATE items SET status = %s, payload = NULL, purged_at = %s, updated = %s "
                "WHERE created < %s AND status IN (%s, %s) RETURNING id",
                (Status.EXPIRED.value, now, now, cutoff, *_RELEASABLE),
            )
            expired = sorted(r[0] for r in await cur.fetchall())
            await cur.execute(
                "UPDATE items SET payload = NULL, purged_at = %s WHERE created < %s AND status IN (%s, %s) "
                "AND payload IS NOT NULL RETURNING id",
                (now, cutoff, Status.RELEASED.value, Status.REJECTED.value),
            )
            erased = sorted(r[0] for r in await cur.fetchall())
            await cur.execute(
                "DELETE FROM notes WHERE item_id IN (SELECT id FROM items WHERE purged_at IS NOT NULL)"
            )
            if expired or erased:
                await self._append(
                    cur,
                    actor,
                    "purge",
                    None,
                    {
                        "older_than_days": older_than_days,
                        "expired": expired[:1000],
                        "erased": erased[:1000],
                        "expired_count": len(expired),
                        "erased_count": len(erased),
                    },
                )
        return len(expired) + len(erased)


def valid_id(item_id: str) -> bool:
    return bool(_ID_RE.match(normalise_id(item_id)))
