"""Runs last (tests/conftest.py orders it): no sample sensitive value appears in clear in
anything the guard wrote during the whole test session.

Searched: every log record emitted by the guard and the libraries it uses (formatted as JSON
and as text, with tracebacks), every captured stdout/stderr/log section of every test, every
`*.log` file under the session's temporary directory (guard subprocess logs, Postfix mail logs)
and every quarantine database file there (SQLite `*.db`, `-wal`, `-shm`), plus the data files of
PostgreSQL clusters the suite started. Values: tests/reliability/sensitive_samples.py, in
their usual spellings (spaced, compact, dashed, lower case; UTF-8 and UTF-16).
"""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from tests.reliability.sensitive_samples import SAMPLES, find_leaks

DB_SUFFIXES = (".db", ".db-wal", ".db-shm", ".sqlite", ".sqlite3")
#: Test-output sections that legitimately hold values: a reviewer's `--reveal` and what a
#: fake upstream received are not guard output. None are needed today; keep it that way.
ALLOWED_SECTIONS: tuple[bytes, ...] = ()


def _written_files(basetemp: Path) -> list[Path]:
    files = [
        p for p in basetemp.rglob("*") if p.is_file() and (p.suffix == ".log" or p.name.endswith(DB_SUFFIXES))
    ]
    for root in glob.glob("/tmp/guard-pg-*/data"):  # PostgreSQL clusters still running for this session
        files += [p for p in Path(root).rglob("*") if p.is_file() and p.stat().st_size < 256 << 20]
    return files


def test_no_sensitive_value_in_anything_the_guard_wrote(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The root conftest (registered as a plugin; importing it again would make a new stash key).
    conftest = next(p for p in request.config.pluginmanager.get_plugins() if hasattr(p, "LEAK_DIR_KEY"))
    leak_dir: Path = request.config.stash[conftest.LEAK_DIR_KEY]
    leaks: dict[str, list[str]] = {}
    scanned = 0
    total = 0
    for name, separator in (("log-records.txt", b"\n"), ("captured.txt", b"\n== ")):
        path = leak_dir / name
        if not path.exists():
            continue
        data = path.read_bytes()
        scanned += 1
        total += len(data)
        for number, chunk in enumerate(data.split(separator), 1):  # one log line, or one captured section
            where, body = b"", chunk
            if name == "captured.txt":
                # The first line is our own header: the test id (whose parameters may hold a sample
                # on purpose) and the section name. Only what was captured counts.
                where, _, body = chunk.partition(b"\n")
            found = find_leaks(body)
            if found and not body.startswith(ALLOWED_SECTIONS):
                leaks[f"{name} #{number} {where[:100].decode(errors='replace')}"] = found
    for path in _written_files(tmp_path_factory.getbasetemp()):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        scanned += 1
        total += len(data)
        found = find_leaks(data)
        if found:
            leaks[str(path)] = found
    records = (
        (leak_dir / "log-records.txt").read_text(errors="replace").count('"ts": ')
        if (leak_dir / "log-records.txt").exists()
        else 0
    )
    print(
        f"\nLEAKS: scanned {scanned} files/streams, {total / 1e6:.1f} MB, {records} log records, "
        f"for {len(SAMPLES)} values -> {len(leaks)} leaks"
    )
    if leaks:  # pytest.fail, not assert: the assertion rewriter would print the values
        pytest.fail(
            "\n".join(
                f"{where}: sample #{', #'.join(str(SAMPLES.index(v)) for v in values)}"
                for where, values in list(leaks.items())[:20]
            ),
            pytrace=False,
        )
