"""Tools for the reliability tests: a real `guard serve` subprocess, hostile SMTP upstreams,
a ledger of what each client was told, and /proc readings (RSS, open fds).

Everything runs on loopback. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosmtplib

from guard.testing import SinkMessage

REPO = Path(__file__).resolve().parents[2]
EXTERNAL = "bob@partner.net"
INTERNAL = "carol@example.com"
SENDER = "alice@example.com"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- TOML (only what guard settings need: scalars, string lists, inline tables, arrays of tables) --
def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def to_toml(config: Mapping[str, Any]) -> str:
    lines: list[str] = []
    for key, value in config.items():
        if not isinstance(value, Mapping):
            lines.append(f"{key} = {_value(value)}")
    for section, body in config.items():
        if not isinstance(body, Mapping):
            continue
        lines.append(f"\n[{section}]")
        tables: list[tuple[str, Mapping[str, Any]]] = []
        for key, value in body.items():
            if isinstance(value, list) and value and all(isinstance(x, Mapping) for x in value):
                tables.extend((key, x) for x in value)
            else:
                lines.append(f"{key} = {_value(value)}")
        for key, table in tables:
            lines.append(f"\n[[{section}.{key}]]")
            lines.extend(f"{k} = {_value(v)}" for k, v in table.items())
    return "\n".join(lines) + "\n"


# -- /proc ---------------------------------------------------------------------------------------
def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# -- a real `guard serve` ------------------------------------------------------------------------
class GuardProcess:
    """`python -m guard serve --config FILE` in a subprocess, on fixed loopback ports so a
    restarted process answers where clients expect it. Its stdout/stderr go to `log_path`
    (appended across restarts), which the session's leak check reads."""

    def __init__(self, root: Path, config: dict[str, Any]) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.smtp_port = free_port()
        self.http_port = free_port()
        config = dict(config)
        config.setdefault("data_dir", str(root / "var"))
        config["smtp"] = {"listen": f"127.0.0.1:{self.smtp_port}", **config.get("smtp", {})}
        config["http"] = {"listen": f"127.0.0.1:{self.http_port}", **config.get("http", {})}
        config["store"] = {"url": f"sqlite:///{root}/var/guard.db", **config.get("store", {})}
        config.setdefault("rules", {"hash_key": "test-hash-key"})
        config.setdefault("log", {"format": "json", "level": "INFO"})
        self.config = config
        self.config_path = root / "guard.toml"
        self.config_path.write_text(to_toml(config))
        self.log_path = root / "guard-serve.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, timeout: float = 30.0) -> None:
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("GUARD_")}
        env["PYTHONUNBUFFERED"] = "1"
        log = self.log_path.open("ab")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "guard",
                "serve",
                "--config",
                str(self.config_path),
                stdout=log,
                stderr=log,
                stdin=asyncio.subprocess.DEVNULL,
                cwd=str(self.root),
                env=env,
            )
        finally:
            log.close()
        self.starts += 1
        await self.wait_ready(timeout)

    async def wait_ready(self, timeout: float) -> None:
        """Until the HTTP listener answers /healthz and the SMTP listener greets (bounded)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            assert self.proc is not None
            if self.proc.returncode is not None:
                raise AssertionError(f"guard exited with {self.proc.returncode}:\n{self.log_tail()}")
            if await self._smtp_greets() and await self._http_ok():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"guard not ready after {timeout}s:\n{self.log_tail()}")

    async def _smtp_greets(self) -> bool:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.smtp_port), 1)
        except (OSError, TimeoutError):
            return False
        try:
            line = await asyncio.wait_for(reader.readline(), 2)
            writer.write(b"QUIT\r\n")
            return line.startswith(b"220")
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _http_ok(self) -> bool:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.http_port), 1)
        except (OSError, TimeoutError):
            return False
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            line = await asyncio.wait_for(reader.readline(), 2)
            return b" 200 " in line
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    # Synchronous twins, for fixtures that serve synchronous tests (hypothesis).
    def start_sync(self, timeout: float = 30.0) -> None:
        import subprocess

        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("GUARD_")}
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "guard", "serve", "--config", str(self.config_path)],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                cwd=str(self.root),
                env=env,
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(f"guard exited with {self.popen.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.http_port), 1) as sock:
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if b" 200 " in sock.recv(64):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"guard not ready after {timeout}s:\n{self.log_tail()}")

    def stop_sync(self) -> int:
        self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(60)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)

    async def wait(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM, then wait for the exit code (bounded)."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await self.wait(timeout)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            try:
                await self.terminate(30)
            except TimeoutError:
                self.kill()
                await self.wait(10)

    def log_tail(self, n: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-n:] if self.log_path.exists() else ""

    def log_events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict):
                    out.append(event)
        return out

    def tracebacks(self) -> list[str]:
        """Unhandled exceptions that reached stderr (Python tracebacks), if any."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return [chunk[:400] for chunk in text.split("Traceback (most recent call last):")[1:]]


# -- the ledger: what each client was told ---------------------------------------------------------
@dataclass
class Attempt:
    tag: str
    kind: str
    outcome: str  # acked | tempfail | refused | conn_error
    code: int
    text: str
    seconds: float


@dataclass
class Ledger:
    attempts: list[Attempt] = field(default_factory=list)

    def add(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)

    def counts(self) -> Counter[str]:
        return Counter(a.outcome for a in self.attempts)

    def acked(self) -> dict[str, list[Attempt]]:
        out: dict[str, list[Attempt]] = {}
        for a in self.attempts:
            if a.outcome == "acked":
                out.setdefault(a.tag, []).append(a)
        return out

    def unexpected(self) -> list[Attempt]:
        """Attempts that got neither an acknowledgement, a temporary failure, a connection error,
        nor the permanent refusal their kind calls for (credential -> 550 5.7.1)."""
        bad = []
        for a in self.attempts:
            if a.outcome == "refused" and not (a.kind == "credential" and a.code == 550):
                bad.append(a)
        return bad


async def smtp_attempt(
    port: int,
    raw: bytes,
    *,
    tag: str,
    kind: str,
    rcpts: Iterable[str],
    timeout: float = 30.0,
    sender: str = SENDER,
) -> Attempt:
    """One delivery attempt with aiosmtplib, classified as the sending MTA would see it."""
    started = time.perf_counter()
    try:
        response = await aiosmtplib.send(
            raw,
            sender=sender,
            recipients=list(rcpts),
            hostname="127.0.0.1",
            port=port,
            timeout=timeout,
            start_tls=False,
        )
        code, text = 250, response[1]
        outcome = "acked"
    except aiosmtplib.SMTPRecipientsRefused as exc:
        first = exc.recipients[0]
        code, text = first.code, first.message
        outcome = "tempfail" if 400 <= code < 500 else "refused"
    except aiosmtplib.SMTPResponseException as exc:
        code, text = exc.code, exc.message
        outcome = "tempfail" if 400 <= code < 500 else "refused"
    except (aiosmtplib.SMTPException, OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
        code, text = 0, type(exc).__name__
        outcome = "conn_error"
    return Attempt(tag, kind, outcome, code, text, time.perf_counter() - started)


def tag_of(content: bytes) -> str | None:
    """The X-Test-Id header of a message, read without a full MIME parse; for a chat body,
    the tag written as "ticket <tag>" in its text."""
    head = content.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"x-test-id:"):
            return line.split(b":", 1)[1].strip().decode("ascii", "replace")
    found = re.search(rb"ticket ([0-9a-f]{16})", content[:4096])
    return found.group(1).decode("ascii") if found else None


def sink_tags(messages: Iterable[SinkMessage]) -> Counter[str]:
    return Counter(t for t in (tag_of(m.content) for m in messages) if t)


async def quarantine_tags(settings: Any) -> tuple[Counter[str], dict[str, str]]:
    """Tags of every quarantined message (opened with the guard's own store) and id -> tag."""
    from guard.store import open_store

    store = open_store(settings)
    await store.open()
    try:
        tags: Counter[str] = Counter()
        by_id: dict[str, str] = {}
        offset = 0
        while True:
            page = await store.list(limit=500, offset=offset)
            if not page:
                break
            for summary in page:
                item = await store.get(summary.id)
                tag = tag_of(item.content)
                if tag:
                    tags[tag] += 1
                    by_id[summary.id] = tag
            offset += len(page)
        return tags, by_id
    finally:
        await store.close()


def new_tag() -> str:
    return uuid.uuid4().hex[:16]


# -- a hostile SMTP upstream ----------------------------------------------------------------------
class HostileUpstream:
    """A raw SMTP server that misbehaves on purpose.

    modes: `close_on_connect` (accepts TCP, then closes), `hang_mid_data` (354, reads a little
    of the message, then never answers), `close_after_data` (reads the whole message, then
    closes without a reply: the message may or may not count as delivered), `slow` (reads the
    whole message and never answers), `tempfail` (451 after the message), `ok` (250).
    `received` holds the messages it read completely (and did not refuse).
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.received: list[bytes] = []
        self.connections = 0
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._writers: list[asyncio.StreamWriter] = []

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def start(self) -> HostileUpstream:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in self._writers:
            w.close()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        try:
            writer.write(b"220 hostile.test ESMTP\r\n")
            if self.mode == "close_on_connect":
                writer.close()
                return
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb == b"EHLO":
                    writer.write(b"250-hostile.test\r\n250-8BITMIME\r\n250 SIZE 100000000\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    break
                elif verb == b"DATA":
                    writer.write(b"354 go ahead\r\n")
                    await writer.drain()
                    if self.mode == "hang_mid_data":
                        await reader.readline()
                        await asyncio.sleep(3600)  # cancelled when the connection or server closes
                    chunks = []
                    while (data := await reader.readline()) not in (b".\r\n", b""):
                        chunks.append(data)
                    self.received.append(b"".join(chunks))
                    if self.mode == "close_after_data":
                        break
                    if self.mode == "slow":
                        await asyncio.sleep(3600)
                    if self.mode == "tempfail":
                        self.received.pop()
                        writer.write(b"451 4.3.0 upstream busy, try later\r\n")
                    else:
                        writer.write(b"250 2.0.0 queued\r\n")
                else:
                    writer.write(b"250 2.0.0 OK\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
