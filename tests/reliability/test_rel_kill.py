"""Kill the guard: SIGKILL at random moments under load, SIGTERM with deliveries under way.

A real `guard serve` subprocess relays to an aiosmtpd sink and quarantines into SQLite.
Several clients send a bounded stream of messages and retry whatever was not acknowledged,
as an MTA does. Afterwards every message a client saw acknowledged (250) must be at the sink
or in the quarantine, and every other attempt must have been a 4xx or a connection error
(or the 550 its content calls for).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from guard.config import load_settings
from guard.store.crypto import new_key
from guard.testing import SmtpSink, build_message
from tests.reliability.relkit import (
    EXTERNAL,
    INTERNAL,
    Attempt,
    GuardProcess,
    Ledger,
    new_tag,
    quarantine_tags,
    sink_tags,
    smtp_attempt,
)
from tests.reliability.sensitive_samples import AWS_KEY, CARD, SSN

pytestmark = pytest.mark.slow

#: kind -> (recipients, body); "card" is held, "credential" is refused with 550 5.7.1.
KINDS: dict[str, tuple[list[str], str]] = {
    "clean": ([EXTERNAL], "The meeting moved to Thursday.\n"),
    "card": ([EXTERNAL], f"Customer card {CARD}, please refund.\n"),
    "internal": ([INTERNAL], f"Internal note: SSN {SSN} verified.\n"),
    "credential": ([EXTERNAL], f"the aws key is {AWS_KEY}\n"),
}
CLIENTS = 4
PER_CLIENT = 40
MAX_KILLS = 6
SEED = int(os.environ.get("RELIABILITY_SEED", "0") or 0) or random.randrange(1 << 30)


def _config(sink: SmtpSink, **smtp: Any) -> dict[str, Any]:
    return {
        "org": {"internal_domains": ["example.com"]},
        "smtp": {"upstream": sink.url, "upstream_timeout_s": 5.0, **smtp},
        "store": {"keys": {"k1": new_key()}},
    }


async def _client(
    guard: GuardProcess, ledger: Ledger, rng: random.Random, index: int, outcome: dict[str, Attempt]
) -> None:
    """Sends PER_CLIENT messages one after another; retries each until it gets a final answer."""
    kinds = list(KINDS)
    for n in range(PER_CLIENT):
        kind = kinds[(index + n) % len(kinds)]
        rcpts, body = KINDS[kind]
        tag = new_tag()
        raw = build_message(to=rcpts, subject=f"msg {index}-{n}", body=body, headers={"X-Test-Id": tag})
        deadline = time.monotonic() + 90
        while True:
            attempt = await smtp_attempt(guard.smtp_port, raw, tag=tag, kind=kind, rcpts=rcpts, timeout=20)
            ledger.add(attempt)
            if attempt.outcome in ("acked", "refused"):
                outcome[tag] = attempt
                break
            assert time.monotonic() < deadline, f"message {tag} never got a final answer"
            await asyncio.sleep(0.1 + rng.random() * 0.2)
        await asyncio.sleep(rng.random() * 0.03)


async def test_sigkill_at_random_moments_loses_nothing_acknowledged(tmp_path: Path, sink: SmtpSink) -> None:
    rng = random.Random(SEED)
    guard = GuardProcess(tmp_path / "guard", _config(sink))
    await guard.start()
    ledger = Ledger()
    final: dict[str, Attempt] = {}
    kills: list[float] = []
    started = time.monotonic()
    clients = [
        asyncio.create_task(_client(guard, ledger, random.Random(rng.random()), i, final))
        for i in range(CLIENTS)
    ]
    try:
        while not all(c.done() for c in clients) and len(kills) < MAX_KILLS:
            await asyncio.wait(clients, timeout=rng.uniform(0.1, 0.8))
            if all(c.done() for c in clients):
                break
            guard.kill()
            await guard.wait(10)
            kills.append(round(time.monotonic() - started, 2))
            await asyncio.sleep(rng.uniform(0.0, 0.5))
            await guard.start()
        await asyncio.wait_for(asyncio.gather(*clients), 180)
    finally:
        for c in clients:
            c.cancel()
        await guard.stop()

    settings = load_settings(guard.config_path)
    held, held_by_id = await quarantine_tags(settings)
    delivered = sink_tags(sink.messages)
    lost: list[str] = []
    for tag, attempt in final.items():
        if attempt.kind == "credential":
            assert (attempt.outcome, attempt.code) == ("refused", 550), attempt
            assert tag not in delivered and tag not in held
        elif attempt.kind == "card":
            assert attempt.outcome == "acked"
            qid = attempt.text.split("Held for security review as ", 1)[1].split()[0]
            if held_by_id.get(qid) != tag:
                lost.append(tag)
        elif delivered[tag] < 1:
            lost.append(tag)
    # Nothing that reached the sink or the quarantine was sent unchecked: held kinds never reach the sink.
    assert not any(delivered[t] for t, a in final.items() if a.kind in ("card", "credential"))
    assert ledger.unexpected() == []
    assert lost == [], f"acknowledged but lost (seed {SEED}): {lost}"
    assert len(final) == CLIENTS * PER_CLIENT
    counts = ledger.counts()
    dup_sink = sum(n - 1 for t, n in delivered.items() if t in final)
    dup_held = sum(n - 1 for n in held.values())
    assert guard.tracebacks() == []
    print(
        f"\nKILL seed={SEED} kills={len(kills)} at {kills}s messages={len(final)} "
        f"attempts={len(ledger.attempts)} "
        f"acked={counts['acked']} refused_550={counts['refused']} tempfail_4xx={counts['tempfail']} "
        f"conn_error={counts['conn_error']} lost=0 duplicate_deliveries={dup_sink} duplicate_holds={dup_held}"
    )
    assert kills, "the stream ended before the first kill"


async def test_sigterm_drains_deliveries_under_way(tmp_path: Path) -> None:
    async with SmtpSink(delay_s=1.5) as slow_sink:
        guard = GuardProcess(tmp_path / "guard", _config(slow_sink))
        await guard.start()
        tags = [new_tag() for _ in range(6)]
        sends = [
            asyncio.create_task(
                smtp_attempt(
                    guard.smtp_port,
                    build_message(to=EXTERNAL, body="hello\n", headers={"X-Test-Id": t}),
                    tag=t,
                    kind="clean",
                    rcpts=[EXTERNAL],
                )
            )
            for t in tags
        ]
        await asyncio.sleep(0.8)  # every message is now with the slow upstream
        t0 = time.monotonic()
        rc = await guard.terminate(60)
        stopped_s = time.monotonic() - t0
        attempts = await asyncio.gather(*sends)
        late = await smtp_attempt(
            guard.smtp_port, build_message(to=EXTERNAL), tag="late", kind="clean", rcpts=[EXTERNAL], timeout=5
        )
    assert rc == 0, guard.log_tail()
    assert [a.outcome for a in attempts] == ["acked"] * len(tags), attempts
    assert Counter(sink_tags(slow_sink.messages)) == Counter(tags)
    assert late.outcome == "conn_error"  # the listener is gone after SIGTERM
    assert guard.tracebacks() == []
    assert any(e.get("event") == "stop" for e in guard.log_events())
    print(
        f"\nSIGTERM: in_flight={len(tags)} acked={len(attempts)} delivered={len(slow_sink.messages)} "
        f"exit={rc} stop_s={stopped_s:.2f}"
    )
