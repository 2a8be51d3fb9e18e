"""Start-up checks, in one place: `guard serve` and `guard check-config` both run `check_settings`,
so a config check-config passes is one serve starts with.

The checks open no socket, connect to nothing and write no file. `existing_store` is for every
command other than `serve`: only `serve` creates a store or a key, the others refuse with a line
that says where they looked (a CLI run from another directory must not start an empty store
whose new keys cannot open the real items).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from guard.config import Settings, split_listen
from guard.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from guard.inspection import Inspector


def check_settings(settings: Settings, *, rules: bool = True) -> Inspector | None:
    """Raise ConfigError/RuleError for anything `guard serve` would refuse at start.

    Returns the compiled inspector (with a hash key for this run only unless one exists);
    `rules=False` skips compiling the rule packs and policy (serve compiles them itself once).
    """
    from guard.smtp.auth import UserDirectory
    from guard.smtp.tls import smtp_tls_context
    from guard.store.crypto import KEY_FILE, Keyring

    inspector = None
    if rules:
        from guard.inspection import Inspector

        inspector = Inspector.from_settings(settings, persist_key=False)  # reads a hash key, never writes one
    if settings.smtp.enabled:
        smtp_tls_context(settings.smtp)
        UserDirectory(settings.smtp.users)
    if settings.store.keys or (settings.data_path / KEY_FILE).exists():
        Keyring.from_settings(settings, create=False)  # base64, 32 bytes, active key, file mode
    _check_listeners(settings)
    return inspector


def listen_keys(settings: Settings) -> dict[str, str]:
    """Setting key -> HOST:PORT of every listener serve opens (to name the key of a busy port)."""
    out: dict[str, str] = {}
    if settings.smtp.enabled:
        out["smtp.listen"] = settings.smtp.listen
        if settings.smtp.implicit_tls_listen:
            out["smtp.implicit_tls_listen"] = settings.smtp.implicit_tls_listen
    if settings.http.enabled:
        out["http.listen"] = settings.http.listen
    if settings.http.metrics_listen:
        out["http.metrics_listen"] = settings.http.metrics_listen
    return out


def _check_listeners(settings: Settings) -> None:
    seen: dict[int, str] = {}
    for key, value in listen_keys(settings).items():
        _, port = split_listen(value)
        if port == 0:
            continue
        if port in seen:
            raise ConfigError(f"{key}: port {port} is also {seen[port]}; each listener needs its own port")
        seen[port] = key


def existing_store(settings: Settings) -> None:
    """Refuse, saying where it looked, unless the quarantine store and its key already exist."""
    from guard.store.crypto import Keyring
    from guard.store.sqlite import sqlite_path

    if settings.store.url.startswith("sqlite:"):
        path = sqlite_path(settings.store.url, settings.data_path)
        if not path.exists():
            raise ConfigError(
                f"{path.absolute()}: no quarantine store there; only `guard serve` creates one "
                f"(check --config, data_dir and store.url)"
            )
    Keyring.from_settings(settings, create=False)
    if not settings.store.url.startswith("sqlite:"):
        _existing_postgres(settings.store.url)


def _existing_postgres(url: str) -> None:
    """The database holds the guard's tables (an empty one would be given them by migrations)."""
    import psycopg

    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    where = f"{parts.scheme}://{parts.hostname or 'localhost'}{port}{parts.path}"  # no password
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    except psycopg.Error as exc:
        raise StoreError(f"{where}: cannot connect ({type(exc).__name__})") from None
    if not (row and row[0]):
        raise ConfigError(
            f"{where}: no quarantine store in this database; only `guard serve` creates one "
            "(check --config and store.url)"
        )
