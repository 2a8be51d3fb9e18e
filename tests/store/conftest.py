"""Store fixtures: every store test runs against both backends (SQLite file, private PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from quarantine_helpers import PgCluster, pg_cluster, smtp_sink, webhook_sink  # noqa: F401  (fixtures)

from guard.config import Settings
from guard.store import open_store
from guard.store.crypto import new_key


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_settings(
    backend: str, request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> Callable[..., Settings]:
    """Settings pointing at a fresh database of the parametrised backend."""
    url: str | None = None
    if backend == "postgres":
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        url = cluster.new_database()

    def factory(**sections: Any) -> Settings:
        store = dict(sections.pop("store", {}))
        if url is not None:
            store.setdefault("url", url)
        return make_settings(store=store, **sections) if store else make_settings(**sections)

    return factory


@pytest.fixture
async def store(store_settings: Callable[..., Settings]) -> Any:
    s = open_store(store_settings(store={"keys": {"k1": new_key()}}))
    await s.open()
    try:
        yield s
    finally:
        await s.close()


# Some tests elsewhere do `from conftest import free_port`; "conftest" is whichever conftest
# module pytest imported last, so every conftest offers it.
from quarantine_helpers import free_port  # noqa: E402, F401
