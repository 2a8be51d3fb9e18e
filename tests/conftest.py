"""Fixtures shared by every test area. Area-specific fixtures live beside the tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from netutil import free_port  # re-exported: some areas import it from here

from guard.config import Settings, load_settings

__all__ = ["free_port"]

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings on loopback with a private data dir; keyword sections override defaults."""

    def factory(**sections: Any) -> Settings:
        base: dict[str, Any] = {
            "data_dir": str(tmp_path / "var"),
            "org": {"internal_domains": ["example.com"]},
            "smtp": {"listen": "127.0.0.1:0"},
            "http": {"listen": "127.0.0.1:0"},
            "store": {"url": f"sqlite:///{tmp_path}/var/guard.db"},
            "rules": {"hash_key": "test-hash-key"},
            "log": {"format": "json", "level": "INFO"},
        }
        for key, value in sections.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                base[key] = {**base[key], **value}
            else:
                base[key] = value
        return load_settings(None, **base)

    return factory


# ---- reliability: what the guard writes during the whole session, for the leak check ----------------
# tests/reliability/test_zz_no_leaks.py runs last and greps all of it (plus log files and quarantine
# databases under the session's temporary directory) for the values in
# tests/reliability/sensitive_samples.py. Owned by tests/reliability; kept apart from the fixtures above.
import logging as _logging  # noqa: E402
import tempfile as _tempfile  # noqa: E402

LEAK_DIR_KEY = pytest.StashKey[Path]()
_LEAK_CHECK = "test_zz_no_leaks.py"


class _EverythingWritten(_logging.Handler):
    """Every record the guard (or a library) emits, formatted with its traceback, appended to a file."""

    def __init__(self, path: Path) -> None:
        super().__init__(_logging.DEBUG)
        self.path = path
        self.plain = _logging.Formatter("%(name)s %(levelname)s %(message)s")

    def emit(self, record: _logging.LogRecord) -> None:
        try:
            from guard.logs import JsonFormatter

            text = JsonFormatter().format(record) + "\n" + self.plain.format(record) + "\n"
            with self.path.open("a", encoding="utf-8", errors="replace") as fh:
                fh.write(text)
        except Exception:  # a broken record must not break the test that logged it
            self.handleError(record)


def pytest_configure(config: pytest.Config) -> None:
    leak_dir = Path(_tempfile.mkdtemp(prefix="guard-written-"))
    config.stash[LEAK_DIR_KEY] = leak_dir
    handler = _EverythingWritten(leak_dir / "log-records.txt")
    _logging.getLogger("guard").addHandler(handler)  # the guard's logger does not propagate
    _logging.getLogger().addHandler(handler)  # libraries (aiosmtpd, aiohttp, psycopg, asyncio)


def pytest_unconfigure(config: pytest.Config) -> None:
    import shutil

    if LEAK_DIR_KEY in config.stash:
        shutil.rmtree(config.stash[LEAK_DIR_KEY], ignore_errors=True)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Keep every captured output section (stdout, stderr, log) of every test phase."""
    sections = [f"== {report.nodeid} {name}\n{text}\n" for name, text in report.sections]
    if sections and _session_config is not None and LEAK_DIR_KEY in _session_config.stash:
        leak_dir = _session_config.stash[LEAK_DIR_KEY]
        with (leak_dir / "captured.txt").open("a", encoding="utf-8", errors="replace") as fh:
            fh.writelines(sections)


_session_config: pytest.Config | None = None


def pytest_sessionstart(session: pytest.Session) -> None:
    global _session_config
    _session_config = session.config


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The leak check goes last, after everything it checks has been written."""
    items.sort(key=lambda item: item.nodeid.split("::", 1)[0].endswith(_LEAK_CHECK))


# ---- redaction: every redacted message or payload is re-inspected and found clean (issue 11) --------
REDACTION_STATS = {"redacted": 0, "rechecks": 0, "clean": 0, "held": 0}


@pytest.fixture(autouse=True)
def redactions_are_rechecked_clean(request: pytest.FixtureRequest) -> Any:
    """Fails a test in which a message or payload was redacted without its one re-inspection,
    or in which that re-inspection still found a masked type — unless the test is marked
    `redaction_leaks` (it proves the fail-closed path: the message is held instead)."""
    from guard.inspection import redact

    events: list[tuple[str, Any]] = []
    stop = redact.observe(lambda kind, obj: events.append((kind, obj)))
    yield
    stop()
    pending, dirty = 0, []
    for kind, obj in events:
        if kind == "redacted":
            pending += 1
            REDACTION_STATS["redacted"] += 1
        else:
            pending = 0
            REDACTION_STATS["rechecks"] += 1
            REDACTION_STATS["clean" if obj.clean else "held"] += 1
            if not obj.clean:
                dirty.append(obj)
    if request.node.get_closest_marker("redaction_leaks"):
        assert dirty, "marked redaction_leaks, but every recheck was clean"
        return
    assert pending == 0, "a redacted message or payload was not re-inspected"
    assert not dirty, "a redaction left findings: " + "; ".join(r.explanation() for r in dirty)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if REDACTION_STATS["redacted"] or REDACTION_STATS["rechecks"]:
        s = REDACTION_STATS
        terminalreporter.write_line(
            f"redaction: {s['redacted']} redacted outputs, {s['rechecks']} rechecks "
            f"({s['clean']} clean, {s['held']} held by a test that expects it)"
        )
