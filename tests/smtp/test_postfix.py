"""A throwaway Postfix using the guard as its relayhost (deploy/postfix/main.cf; PROTOCOLS.md §2).

- 451 from the guard: the mail stays deferred in Postfix's queue and is delivered after the
  guard recovers.
- 550 from the guard: Postfix bounces; the bounce comes back through the guard as a `<>`
  message, and the guard relays it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from guard.smtp.auth import hash_password
from guard.testing import SmtpSink, build_message
from tests.conftest import REPO
from tests.smtp.conftest import Certs, GuardFactory, RunningGuard
from tests.smtp.helpers import AWS_KEY, CARD, EXTERNAL, SENDER


def _why_not() -> str | None:
    if shutil.which("postfix") is None or shutil.which("postqueue") is None:
        return "postfix is not installed (.ci/setup-extra.sh installs it)"
    if os.geteuid() != 0:
        return "a throwaway Postfix instance needs root"
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        return "the postfix user does not exist"
    if not Path("/etc/postfix/master.cf").exists():
        return "/etc/postfix/master.cf is missing"
    return None


pytestmark = [
    pytest.mark.postfix,
    pytest.mark.slow,
    pytest.mark.skipif(_why_not() is not None, reason=_why_not() or ""),
]

PASSWORD = "pf-" + uuid.uuid4().hex[:12]
_SKIP_SERVICES = {"maildrop", "uucp", "ifmail", "bsmtp", "scalemail-backend", "mailman"}


async def _run(*args: str, stdin: bytes | None = None, timeout: float = 30) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(stdin), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode("utf-8", "replace")


def _snippet() -> dict[str, str]:
    """The shipped relayhost settings, as key -> value."""
    conf: dict[str, str] = {}
    for line in (REPO / "deploy" / "postfix" / "main.cf").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            conf[key.strip()] = value.strip()
    return conf


def _master_cf() -> str:
    """The machine's master.cf without inet listeners and delivery agents we do not need."""
    keep: list[str] = []
    keeping = False
    for line in Path("/etc/postfix/master.cf").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        if not line[0].isspace():
            fields = line.split()
            keeping = (
                len(fields) > 1
                and fields[1] in ("unix", "unix-dgram", "fifo")
                and fields[0] not in _SKIP_SERVICES
            )
        if keeping:
            keep.append(line)
    return "\n".join(keep) + "\n"


class Postfix:
    """One private Postfix instance (`-c DIR`), relaying everything to the guard."""

    def __init__(self, root: Path, guard_port: int) -> None:
        self.root = root
        self.etc = root / "etc"
        self.maillog = root / "maillog"
        root.chmod(0o755)  # mkdtemp makes it 0700; the postfix user must reach data/ below it
        for sub in ("etc", "spool", "data"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        shutil.chown(root / "data", user="postfix")
        (root / "data").chmod(0o700)
        conf = _snippet()
        conf["relayhost"] = f"[127.0.0.1]:{guard_port}"
        conf["smtp_sasl_password_maps"] = f"inline:{{ [127.0.0.1]:{guard_port}=postfix:{PASSWORD} }}"
        conf.update(
            {
                "compatibility_level": "3.6",
                "queue_directory": str(root / "spool"),
                "data_directory": str(root / "data"),
                "mail_owner": "postfix",
                "setgid_group": "postdrop",
                "myhostname": "sender.test",
                "mydestination": "",
                "inet_interfaces": "loopback-only",
                "inet_protocols": "ipv4",
                "alias_maps": "",
                "alias_database": "",
                "local_recipient_maps": "",
                "smtp_tls_loglevel": "1",
                "queue_run_delay": "5s",
                "minimal_backoff_time": "5s",
                "maximal_backoff_time": "10s",
                "maillog_file": str(self.maillog),
                "maillog_file_prefixes": str(root),
            }
        )
        (self.etc / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in conf.items()))
        (self.etc / "master.cf").write_text(_master_cf())

    async def start(self) -> None:
        rc, out = await _run("postfix", "-c", str(self.etc), "check")
        assert rc == 0, out
        rc, out = await _run("postfix", "-c", str(self.etc), "start")
        assert rc == 0, out

    async def stop(self) -> None:
        await _run("postfix", "-c", str(self.etc), "stop")
        for _ in range(50):
            rc, _ = await _run("postfix", "-c", str(self.etc), "status")
            if rc != 0:
                return
            await asyncio.sleep(0.1)

    async def sendmail(self, raw: bytes, sender: str, *rcpts: str) -> None:
        rc, out = await _run("sendmail", "-C", str(self.etc), "-f", sender, *rcpts, stdin=raw)
        assert rc == 0, out

    async def queue(self) -> list[dict[str, Any]]:
        rc, out = await _run("postqueue", "-c", str(self.etc), "-j")
        assert rc == 0, out
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    async def flush(self) -> None:
        rc, out = await _run("postqueue", "-c", str(self.etc), "-f")
        assert rc == 0, out

    def log(self) -> str:
        return self.maillog.read_text(errors="replace") if self.maillog.exists() else ""


async def _until(predicate: Any, what: str, timeout: float = 25.0) -> Any:
    """Poll an async or sync predicate (bounded); return its first truthy value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)


@pytest.fixture
async def relay(start_guard: GuardFactory, certs: Certs) -> AsyncIterator[tuple[RunningGuard, Postfix]]:
    guard = await start_guard(
        relay_networks=[],
        tls_cert=str(certs.cert_file),
        tls_key=str(certs.key_file),
        users=[{"name": "postfix", "password_hash": hash_password(PASSWORD)}],
    )
    root = Path(tempfile.mkdtemp(prefix="pf", dir="/tmp"))  # short: Postfix socket paths are limited
    postfix = Postfix(root, guard.port)
    try:
        await postfix.start()
        yield guard, postfix
    finally:
        await postfix.stop()
        with contextlib.suppress(Exception):
            print(postfix.log()[-4000:])  # shown only when the test failed
        shutil.rmtree(root, ignore_errors=True)


async def test_451_keeps_mail_deferred_until_the_guard_recovers(
    relay: tuple[RunningGuard, Postfix], sink: SmtpSink
) -> None:
    _guard, postfix = relay
    sink.fail_with("451 4.3.0 upstream busy", times=1_000_000)  # the guard answers 451 4.4.0
    tag = uuid.uuid4().hex
    await postfix.sendmail(build_message(to=EXTERNAL, headers={"X-Test-Id": tag}), SENDER, EXTERNAL)

    def deferred(entries: list[dict[str, Any]]) -> bool:
        return any(e["queue_name"] == "deferred" and "451 4.4.0" in str(e["recipients"]) for e in entries)

    await _until(lambda: _check(postfix.queue(), deferred), "the message to be deferred")
    assert sink.messages == []

    sink.failures.clear()  # the guard recovers
    await postfix.flush()
    await _until(lambda: _check(postfix.queue(), lambda q: q == []), "the queue to drain")
    [got] = await sink.wait_for(1)
    assert got.header("X-Test-Id") == tag
    assert got.rcpt_tos == (EXTERNAL,) and got.mail_from == SENDER
    assert b"with ESMTPSA id" in got.content  # STARTTLS and AUTH, as in the shipped snippet
    assert "status=sent" in postfix.log()


async def _check(coro: Any, test: Any) -> bool:
    return bool(test(await coro))


async def test_550_bounces_and_the_bounce_goes_back_out_through_the_guard(
    relay: tuple[RunningGuard, Postfix], sink: SmtpSink
) -> None:
    _guard, postfix = relay
    await postfix.sendmail(build_message(to=EXTERNAL, body=f"aws key {AWS_KEY}\n"), SENDER, EXTERNAL)
    bounce = await _until(
        lambda: next((m for m in sink.messages if m.mail_from == "<>"), None), "the bounce at the sink"
    )
    assert bounce.rcpt_tos == (SENDER,)
    text = bounce.content.decode("utf-8", "replace")
    assert "report-type=delivery-status" in text
    assert "Status: 5.7.1" in text and "API_KEY x1" in text
    assert "status=bounced" in postfix.log()

    # A quarantined message is accepted (250 2.6.0): no bounce for the Postfix sender.
    await postfix.sendmail(build_message(to=EXTERNAL, body=f"card {CARD}\n"), SENDER, EXTERNAL)
    await _until(
        lambda: "250 2.6.0 Held for security review as Q-" in postfix.log(), "the held reply in maillog"
    )
    await _until(lambda: _check(postfix.queue(), lambda q: q == []), "the queue to drain")
    assert len([m for m in sink.messages if m.mail_from == "<>"]) == 1
