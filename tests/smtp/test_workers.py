"""`guard serve --workers 2`: two processes listening on one port (SO_REUSEPORT), supervised."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiosmtplib
import pytest

from guard.testing import SmtpSink, build_message
from tests.conftest import REPO, free_port
from tests.smtp.helpers import EXTERNAL, SENDER

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc to inspect sockets"),
]


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _listen_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            next(fh)
            for line in fh:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                    inodes.add(inode)
    return inodes


def _listeners(pid: int, port: int) -> list[int]:
    """The worker pids holding a listening socket on `port`."""
    inodes = _listen_inodes(port)
    owners = []
    for child in _children(pid):
        try:
            links = [os.readlink(f"/proc/{child}/fd/{fd}") for fd in os.listdir(f"/proc/{child}/fd")]
        except OSError:
            continue
        if any(link.startswith("socket:[") and link[8:-1] in inodes for link in links):
            owners.append(child)
    return owners


async def _until_listeners(
    pid: int, port: int, n: int, exclude: set[int] = frozenset(), timeout: float = 40
) -> list[int]:  # type: ignore[assignment]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        owners = [p for p in _listeners(pid, port) if p not in exclude]
        if len(owners) >= n:
            return owners
        await asyncio.sleep(0.2)
    raise AssertionError(f"fewer than {n} workers listening on {port}: {_listeners(pid, port)}")


async def _send_many(port: int, n: int) -> None:
    async def one(i: int) -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=20) as c:
            await c.sendmail(SENDER, [EXTERNAL], build_message(to=EXTERNAL, subject=f"w{i}"))

    await asyncio.gather(*(one(i) for i in range(n)))


async def test_two_workers_share_the_port_and_are_supervised(tmp_path: Path, sink: SmtpSink) -> None:
    port = free_port()
    config = tmp_path / "guard.toml"
    config.write_text(f"""
data_dir = "{tmp_path / "var"}"
[org]
internal_domains = ["example.com"]
[smtp]
listen = "127.0.0.1:{port}"
upstream = "{sink.url}"
[http]
enabled = false
[store]
url = "sqlite:///{tmp_path / "var" / "guard.db"}"
[rules]
hash_key = "test-hash-key"
""")
    log_file = tmp_path / "guard.log"
    with log_file.open("wb") as log_fh:  # a file, not a pipe: a full pipe would block the workers
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "guard",
            "serve",
            "--workers",
            "2",
            "--config",
            str(config),
            cwd=REPO,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log_fh,
        )
    try:
        first = await _until_listeners(proc.pid, port, 2)
        await _send_many(port, 16)
        assert len(await sink.wait_for(16, timeout=20)) == 16

        os.kill(first[0], signal.SIGKILL)  # a worker dies: the supervisor replaces it
        replaced = await _until_listeners(proc.pid, port, 2, exclude={first[0]})
        assert first[0] not in replaced
        await _send_many(port, 4)
        assert len(await sink.wait_for(20, timeout=20)) == 20
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 60)
    assert code == 0
    assert _children(proc.pid) == []
    log = log_file.read_text()
    assert '"event": "worker_exit"' in log and log.count('"event": "worker_start"') == 3
