"""Quarantine and audit storage: `open_store(settings)` picks the backend from `store.url`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guard.config import Settings
    from guard.store.base import QuarantineStore


def open_store(settings: Settings) -> QuarantineStore:
    """Return the configured store (not yet opened; call `await store.open()`)."""
    url = settings.store.url
    if url.startswith("sqlite:"):
        from guard.store.sqlite import SqliteStore

        return SqliteStore(settings)
    from guard.store.postgres import PostgresStore

    return PostgresStore(settings)
