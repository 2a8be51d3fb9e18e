"""Schema migrations, run on every start; each version is applied once, in order.

The SQL is shared by both backends; `{blob}` and `{serial}` are filled in per dialect.
Add a new version at the end; never edit one that has shipped.
Timestamps are UTC ISO-8601 text with a fixed width, so they sort and compare as text on both.
"""

from __future__ import annotations

from guard.store.base import GENESIS

MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE items (
            id TEXT PRIMARY KEY,
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            status TEXT NOT NULL,
            channel TEXT NOT NULL,
            sender TEXT NOT NULL,
            recipients TEXT NOT NULL,
            route TEXT,
            types TEXT NOT NULL,
            types_index TEXT NOT NULL,
            severity TEXT NOT NULL,
            explanation TEXT NOT NULL,
            subject TEXT NOT NULL,
            size INTEGER NOT NULL,
            key_id TEXT NOT NULL,
            payload {blob},
            decided_by TEXT,
            decided_at TEXT,
            approvals TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT NOT NULL DEFAULT '',
            claimed_by TEXT,
            claimed_at TEXT,
            purged_at TEXT
        )""",
            "CREATE INDEX items_status_created ON items (status, created)",
            "CREATE INDEX items_created ON items (created)",
            """CREATE TABLE notes (
            id {serial},
            item_id TEXT NOT NULL REFERENCES items (id),
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            key_id TEXT NOT NULL,
            payload {blob} NOT NULL
        )""",
            "CREATE INDEX notes_item ON notes (item_id)",
            """CREATE TABLE audit (
            seq BIGINT PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            item_id TEXT,
            details TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )""",
            "CREATE INDEX audit_item ON audit (item_id)",
            """CREATE TABLE audit_head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            seq BIGINT NOT NULL,
            hash TEXT NOT NULL
        )""",
            f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{GENESIS}')",
        ),
    ),
)

DIALECTS = {
    "sqlite": {"blob": "BLOB", "serial": "INTEGER PRIMARY KEY AUTOINCREMENT"},
    "postgres": {"blob": "BYTEA", "serial": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"},
}

VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)"
)


def pending(current: int, dialect: str) -> list[tuple[int, list[str]]]:
    """The statements still to apply after version `current`, per version."""
    fill = DIALECTS[dialect]
    return [(v, [sql.format(**fill) for sql in stmts]) for v, stmts in MIGRATIONS if v > current]


LATEST = MIGRATIONS[-1][0]
