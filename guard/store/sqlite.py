"""SQLite backend: the embedded default (WAL, synchronous=FULL, one file in the data directory).

One connection, used from one dedicated thread; an asyncio lock makes each transaction run
alone within the process, and `BEGIN IMMEDIATE` plus a busy timeout serialises writers across
processes (a `guard quarantine release` from the CLI while `guard serve` runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from guard.errors import StoreError
from guard.store.sql import Cursor, SqlStore

if TYPE_CHECKING:
    from guard.config import Settings

T = TypeVar("T")


def sqlite_path(url: str, data_dir: Path) -> Path:
    """`sqlite:///var/guard.db` is relative to the working directory, `sqlite:////abs/guard.db` absolute;
    a bare `sqlite://` means `<data_dir>/guard.db`."""
    path = urlsplit(url).path
    if not path or path == "/":
        return data_dir / "guard.db"
    return Path(path[1:])


class _Cursor:
    def __init__(self, store: SqliteStore, cur: sqlite3.Cursor) -> None:
        self._store, self._cur = store, cur

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        await self._store._call(self._cur.execute, sql.replace("%s", "?"), tuple(params))

    async def executemany(self, sql: str, params_seq: Sequence[Sequence[Any]]) -> None:
        rows = [tuple(p) for p in params_seq]
        await self._store._call(self._cur.executemany, sql.replace("%s", "?"), rows)

    async def fetchone(self) -> Any:
        return await self._store._call(self._cur.fetchone)

    async def fetchall(self) -> list[Any]:
        return await self._store._call(self._cur.fetchall)


class SqliteStore(SqlStore):
    dialect = "sqlite"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.path = sqlite_path(settings.store.url, settings.data_path)
        self._conn: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file we opened
        self._executor: ThreadPoolExecutor | None = None
        self._lock = asyncio.Lock()

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise StoreError("store is not open")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite: {type(exc).__name__}: {exc}") from None

    def _open_connection(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=15)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # a commit survives power loss, not just a crash
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=15000")
        with contextlib.suppress(OSError):
            self.path.chmod(0o600)
        st = os.stat(self.path)
        self._identity = (st.st_dev, st.st_ino)
        return conn

    def _begin(self, cur: sqlite3.Cursor) -> None:
        """BEGIN IMMEDIATE, once the database file is known to be the one we opened: if it was
        deleted or replaced (say, a cleaned-up data directory), SQLite would commit into an
        unlinked file that vanishes at the next restart, so a held message would be lost."""
        try:
            st = os.stat(self.path)
            same = (st.st_dev, st.st_ino) == self._identity
        except OSError:
            same = False
        if not same:
            raise StoreError("sqlite: the database file was removed or replaced; restart the guard")
        cur.execute("BEGIN IMMEDIATE")

    async def _connect(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guard-sqlite")
        self._conn = await self._call(self._open_connection)

    async def _disconnect(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            async with self._lock:
                await self._call(conn.close)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[Cursor]:
        async with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreError("store is not open")
            cur = await self._call(conn.cursor)
            await self._call(self._begin, cur)
            try:
                yield _Cursor(self, cur)
            except BaseException:
                with contextlib.suppress(StoreError):
                    await asyncio.shield(self._call(cur.execute, "ROLLBACK"))
                raise
            else:
                await self._call(cur.execute, "COMMIT")
            finally:
                await asyncio.shield(self._call(cur.close))

    async def _migrate(self) -> None:
        async with self._tx() as cur:
            await self._apply_migrations(cur)
