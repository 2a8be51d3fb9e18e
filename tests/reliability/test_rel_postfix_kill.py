"""Postfix in front of a guard that is SIGKILLed at random moments: Postfix's own retry queue
carries every message through, and each one ends up at the sink or in the quarantine.

Postfix relays to a real `guard serve` subprocess (STARTTLS + AUTH, as in
deploy/postfix/main.cf); the Postfix fixture class is the SMTP suite's (tests/smtp).
"""

from __future__ import annotations

import asyncio
import random
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from guard.config import load_settings
from guard.smtp.auth import hash_password
from guard.store.crypto import new_key
from guard.testing import SmtpSink, build_message
from tests.reliability.conftest import Certs
from tests.reliability.relkit import EXTERNAL, SENDER, GuardProcess, new_tag, quarantine_tags, sink_tags
from tests.reliability.sensitive_samples import CARD
from tests.smtp.test_postfix import PASSWORD, Postfix, _why_not

pytestmark = [
    pytest.mark.postfix,
    pytest.mark.slow,
    pytest.mark.skipif(_why_not() is not None, reason=_why_not() or ""),
]

MESSAGES = 40
KILLS = 3


async def _until(predicate: Callable[[], Awaitable[bool]], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.5)


async def test_postfix_queue_carries_every_message_through_guard_kills(
    tmp_path: Path, sink: SmtpSink, rel_certs: Certs
) -> None:
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    guard = GuardProcess(
        tmp_path / "guard",
        {
            "org": {"internal_domains": ["example.com"]},
            "smtp": {
                "upstream": sink.url,
                "relay_networks": [],  # only authenticated clients may relay
                "tls_cert": str(rel_certs.cert_file),
                "tls_key": str(rel_certs.key_file),
                "users": [{"name": "postfix", "password_hash": hash_password(PASSWORD)}],
            },
            "store": {"keys": {"k1": new_key()}},
        },
    )
    await guard.start()
    root = Path(tempfile.mkdtemp(prefix="pfr", dir="/tmp"))  # short: Postfix socket paths are limited
    postfix = Postfix(root, guard.smtp_port)
    tags: dict[str, str] = {}
    kills: list[float] = []
    try:
        await postfix.start()
        started = time.monotonic()
        next_kill = rng.uniform(0.2, 1.5)
        for n in range(MESSAGES):
            tag = new_tag()
            kind = "card" if n % 3 == 0 else "clean"
            tags[tag] = kind
            body = f"card {CARD} for the refund\n" if kind == "card" else f"status report {n}\n"
            raw = build_message(
                sender=SENDER, to=EXTERNAL, subject=f"m{n}", body=body, headers={"X-Test-Id": tag}
            )
            await postfix.sendmail(raw, SENDER, EXTERNAL)
            await asyncio.sleep(rng.uniform(0.0, 0.1))
            if len(kills) < KILLS and time.monotonic() - started > next_kill:
                guard.kill()
                await guard.wait(10)
                kills.append(round(time.monotonic() - started, 2))
                await asyncio.sleep(rng.uniform(0.5, 1.5))  # Postfix meets a closed port meanwhile
                await guard.start()
                next_kill = time.monotonic() - started + rng.uniform(0.3, 1.5)

        async def queue_empty() -> bool:
            if await postfix.queue():
                await postfix.flush()
                return False
            return True

        await _until(queue_empty, "Postfix's queue to drain", timeout=90)
        maillog = postfix.log()
    finally:
        await postfix.stop()
        (tmp_path / "postfix-maillog.log").write_text(postfix.log())  # kept for the session leak check
        shutil.rmtree(root, ignore_errors=True)
        await guard.stop()

    delivered = sink_tags(sink.messages)
    held, _ = await quarantine_tags(load_settings(guard.config_path))
    missing = [t for t, kind in tags.items() if (delivered if kind == "clean" else held)[t] < 1]
    assert missing == [], f"seed {seed}: not delivered/held: {missing}"
    assert not any(delivered[t] for t, kind in tags.items() if kind == "card")
    deferred = len(re.findall(r"status=deferred", maillog))
    sent = len(re.findall(r"status=sent", maillog))
    bounced = len(re.findall(r"status=bounced", maillog))
    assert bounced == 0 and sent >= MESSAGES
    assert guard.tracebacks() == []
    print(
        f"\nPOSTFIX seed={seed} kills={len(kills)} at {kills}s messages={MESSAGES} "
        f"(clean={Counter(tags.values())['clean']}, card={Counter(tags.values())['card']}) "
        f"postfix: deferred={deferred} sent={sent} bounced={bounced}; sink={sum(delivered.values())} "
        f"held={sum(held.values())} lost=0 "
        f"duplicates={sum(delivered.values()) + sum(held.values()) - MESSAGES}"
    )
