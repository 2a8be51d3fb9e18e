"""PostgreSQL backend (psycopg 3, async pool): one queue shared by any number of guard instances.

Release is claimed with a conditional `UPDATE … WHERE status IN (held, release_failed)`: under
READ COMMITTED a second, concurrent claim waits for the first to commit, re-checks the
condition on the new row and finds nothing to update. Audit appends lock the single head row,
so the chain stays linear across instances. Migrations run under an advisory lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import psycopg
from psycopg_pool import AsyncConnectionPool

from guard.errors import StoreError
from guard.store.sql import Cursor, SqlStore

if TYPE_CHECKING:
    from guard.config import Settings

_MIGRATION_LOCK = 0x6775617264  # "guard"


class PostgresStore(SqlStore):
    dialect = "postgres"
    for_update = " FOR UPDATE"

    def __init__(self, settings: Settings, *, pool_size: int = 4) -> None:
        super().__init__(settings)
        url = settings.store.url
        self._conninfo = "postgresql://" + url.split("://", 1)[1] if url.startswith("postgres://") else url
        self._pool_size = pool_size
        self._pool: AsyncConnectionPool | None = None

    async def _connect(self) -> None:
        pool = AsyncConnectionPool(
            self._conninfo,
            min_size=1,
            max_size=self._pool_size,
            open=False,
            timeout=15,
            kwargs={"connect_timeout": 10, "application_name": "outbound-guard"},
        )
        try:
            await pool.open(wait=True, timeout=15)
        except Exception as exc:
            await pool.close()
            raise StoreError(f"postgresql: cannot connect ({type(exc).__name__})") from None
        self._pool = pool

    async def _disconnect(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[Cursor]:
        if self._pool is None:
            raise StoreError("store is not open")
        try:
            async with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                yield cur
        except psycopg.Error as exc:
            raise StoreError(f"postgresql: {type(exc).__name__}") from None

    async def _migrate(self) -> None:
        async with self._tx() as cur:
            await cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            await self._apply_migrations(cur)
