"""swaks, the SMTP test tool admins use, against the guard (exit codes per PROTOCOLS.md §1.5)."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from guard.smtp.auth import hash_password
from guard.testing import SmtpSink
from tests.smtp.conftest import Certs, GuardFactory
from tests.smtp.helpers import AWS_KEY, EXTERNAL, SENDER

pytestmark = pytest.mark.skipif(
    shutil.which("swaks") is None, reason="swaks is not installed (.ci/setup-extra.sh)"
)


async def swaks(port: int, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "swaks",
        "--server",
        f"127.0.0.1:{port}",
        "--from",
        SENDER,
        "--to",
        EXTERNAL,
        "--helo",
        "swaks.test",
        "--timeout",
        "10",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode("utf-8", "replace")


async def test_swaks_starttls_auth_plain_and_policy(
    start_guard: GuardFactory, sink: SmtpSink, certs: Certs
) -> None:
    guard = await start_guard(
        relay_networks=[],
        tls_cert=str(certs.cert_file),
        tls_key=str(certs.key_file),
        users=[{"name": "guard", "password_hash": hash_password("s3cret")}],
    )
    auth = ("--tls", "--auth", "PLAIN", "--auth-user", "guard", "--auth-password", "s3cret")
    rc, out = await swaks(guard.port, *auth, "--header", "Subject: hi", "--pipeline")
    assert rc == 0, out
    assert "PIPELINING" in out
    assert len(await sink.wait_for(1)) == 1

    rc, out = await swaks(guard.port, *auth, "--body", f"aws key {AWS_KEY}")
    assert rc == 26, out  # DATA refused
    assert "550-5.7.1" in out and "API_KEY x1" in out

    rc, out = await swaks(
        guard.port, "--tls", "--auth", "PLAIN", "--auth-user", "guard", "--auth-password", "nope"
    )
    assert rc == 28, out  # AUTH failed, promptly
    assert "535 5.7.8" in out

    rc, out = await swaks(guard.port, "--tls")
    assert rc == 24, out  # RCPT refused: no AUTH, not a permitted network
    assert "550 5.7.1 Relaying denied" in out
    assert len(sink.messages) == 1
