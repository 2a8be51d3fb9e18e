"""SMTP faults with real peers: whatever the upstream does, the client gets a 4xx (or a 250 that
is kept), never a 5xx for a fault and never a 250 for a message that is then lost.

Each fault is applied to a batch of messages from concurrent clients; then the upstream
recovers and the clients retry, as an MTA would. The ledger shows what the clients saw.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from guard.testing import SmtpSink, build_message
from tests.reliability.conftest import GuardFactory
from tests.reliability.relkit import (
    EXTERNAL,
    INTERNAL,
    HostileUpstream,
    Ledger,
    free_port,
    new_tag,
    sink_tags,
    smtp_attempt,
)
from tests.reliability.sensitive_samples import CARD

BATCH = 4
FAULTS = ["down", "close_on_connect", "tempfail", "hang_mid_data", "close_after_data", "slow"]


def _message(tag: str, body: str = "Quarterly figures attached.\n", to: str = EXTERNAL) -> bytes:
    return build_message(to=to, subject=f"report {tag}", body=body, headers={"X-Test-Id": tag})


@pytest.mark.parametrize("fault", FAULTS)
async def test_upstream_fault_tempfails_and_the_retry_is_delivered(
    start_guard: GuardFactory, fault: str
) -> None:
    hostile = HostileUpstream(fault)
    if fault == "down":
        hostile.port = free_port()  # nothing listens there yet
    else:
        await hostile.start()
    guard = await start_guard(
        smtp={"upstream": hostile.url, "upstream_timeout_s": 1.5, "session_timeout_s": 30},
        http={"enabled": False},
    )
    ledger = Ledger()
    tags = [new_tag() for _ in range(BATCH)]
    try:
        first = await asyncio.gather(
            *(smtp_attempt(guard.smtp_port, _message(t), tag=t, kind="clean", rcpts=[EXTERNAL]) for t in tags)
        )
        for attempt in first:
            ledger.add(attempt)
        # During the fault no client may be told "accepted" or "refused for good".
        assert {a.outcome for a in first} == {"tempfail"}, first
        assert all(a.code == 451 and a.seconds < 10 for a in first), first
        during = len(hostile.received)

        # The upstream recovers (same port); every client retries once.
        if fault == "down":
            await hostile.start()
        hostile.mode = "ok"
        second = await asyncio.gather(
            *(smtp_attempt(guard.smtp_port, _message(t), tag=t, kind="clean", rcpts=[EXTERNAL]) for t in tags)
        )
        for attempt in second:
            ledger.add(attempt)
        assert {a.outcome for a in second} == {"acked"}, second
        delivered = Counter(m.split(b"X-Test-Id: ", 1)[1][:16].decode() for m in hostile.received)
    finally:
        await hostile.stop()
    assert set(delivered) == set(tags), "an acknowledged message is missing upstream"
    duplicates = sum(n - 1 for n in delivered.values())
    # Only a fault where the upstream had the whole message may cause a duplicate (never a loss).
    assert duplicates == during
    if fault not in ("close_after_data", "slow"):
        assert during == 0
    print(
        f"\nFAULT smtp/{fault}: attempts={len(ledger.attempts)} {dict(ledger.counts())} "
        f"acked={len(ledger.acked())} lost=0 duplicates={duplicates}"
    )


async def test_upstream_fault_with_mixed_recipients_never_acks_a_partial_delivery(
    start_guard: GuardFactory, sink: SmtpSink
) -> None:
    """Internal copy relayed, external copy held: with the store closed the whole message is
    tempfailed (the retry may duplicate the internal copy; it never drops the external one)."""
    guard = await start_guard(smtp={"upstream": sink.url}, http={"enabled": False})
    tag = new_tag()
    raw = _message(tag, body=f"card {CARD}\n", to=f"{INTERNAL}, {EXTERNAL}")
    await guard.services.store.close()
    first = await smtp_attempt(guard.smtp_port, raw, tag=tag, kind="card", rcpts=[INTERNAL, EXTERNAL])
    assert (first.outcome, first.code) == ("tempfail", 451)
    await guard.services.store.open()
    second = await smtp_attempt(guard.smtp_port, raw, tag=tag, kind="card", rcpts=[INTERNAL, EXTERNAL])
    assert second.outcome == "acked" and "Held for security review as Q-" in second.text
    assert sink_tags(sink.messages)[tag] == 2  # internal copy: once per attempt (duplicate, not loss)
    [held] = await guard.services.store.list()
    assert held.recipients == (EXTERNAL,)
