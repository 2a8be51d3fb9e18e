"""Chat-webhook faults with real peers: the upstream down, slow, answering 500, or closing
the connection mid-reply. The client hears a failure (502/504/the upstream's 5xx), never a
success for a message the upstream did not take; a success always means it arrived (or, for
a held message, that it is in the quarantine).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import aiohttp
import pytest

from guard.testing_webhook import FakeWebhook
from tests.reliability.conftest import GuardFactory
from tests.reliability.relkit import free_port
from tests.reliability.sensitive_samples import CARD

BATCH = 4


async def _post(url: str, text: str) -> tuple[int, bytes]:
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, json={"text": text}, timeout=aiohttp.ClientTimeout(total=20)) as resp,
        ):
            return resp.status, await resp.read()
    except aiohttp.ClientError:
        return 0, b""


class _Closing:
    """An upstream that reads the request and closes the connection without any reply."""

    def __init__(self) -> None:
        self.received = 0
        self.port = 0
        self._server: asyncio.AbstractServer | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(
            next(
                (
                    line.split(b":", 1)[1]
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                b"0",
            )
        )
        await reader.readexactly(length)
        self.received += 1
        writer.close()

    async def start(self) -> _Closing:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()


@pytest.mark.parametrize("fault", ["down", "slow", "http_500", "close_mid_reply"])
async def test_webhook_fault_is_a_failure_for_the_client_then_the_retry_arrives(
    start_guard: GuardFactory, fault: str
) -> None:
    hook = FakeWebhook("slack")
    closing: _Closing | None = None
    if fault == "down":
        hook.port = free_port()
    elif fault != "close_mid_reply":
        await hook.start()
    if fault == "slow":
        hook.delay_s = 3.0
    if fault == "http_500":
        hook.reply_with(*([500] * BATCH))
    if fault == "close_mid_reply":
        closing = await _Closing().start()
    port = closing.port if closing else hook.port
    guard = await start_guard(
        smtp={"enabled": False},
        http={"upstream_timeout_s": 1.0},
        chat={
            "routes": [
                {
                    "name": "ext",
                    "format": "slack",
                    "audience": "external",
                    "upstream": f"http://127.0.0.1:{port}/services/T/B/X",
                }
            ]
        },
    )
    texts = [f"deploy {i} finished" for i in range(BATCH)]
    first = await asyncio.gather(*(_post(guard.url("/hooks/ext"), t) for t in texts))
    statuses = Counter(s for s, _ in first)
    expected = {"down": 502, "slow": 504, "http_500": 500, "close_mid_reply": 502}[fault]
    assert statuses == Counter({expected: BATCH}), first
    if fault in ("down", "slow", "close_mid_reply"):
        assert all(
            json.loads(body)["error"] in ("upstream_unreachable", "upstream_timeout") for _, body in first
        )
    # The retry, once the upstream is healthy, gets the service's success and arrives.
    if fault == "down":
        await hook.start()
    hook.delay_s = 0.0
    if closing is not None:
        await closing.stop()
        hook.port = closing.port  # a healthy upstream where the broken one was
        await hook.start()
    arrived_before = len(hook.requests)
    second = await asyncio.gather(*(_post(guard.url("/hooks/ext"), t) for t in texts))
    await hook.stop()
    assert [s for s, _ in second] == [200] * BATCH and all(b == b"ok" for _, b in second)
    got = Counter(r.json()["text"] for r in hook.requests[arrived_before:])
    assert got == Counter(texts)
    duplicates = (len(hook.requests) - arrived_before - BATCH) + (closing.received if closing else 0)
    if fault == "slow":
        duplicates = len(hook.requests) - BATCH  # the slow upstream did get the first copies
    print(
        f"\nFAULT chat/{fault}: first={dict(statuses)} retry={dict(Counter(s for s, _ in second))} "
        f"lost=0 possible_duplicates={duplicates}"
    )


async def test_held_chat_message_is_acknowledged_only_once_stored(start_guard: GuardFactory) -> None:
    """202 means "in the quarantine": with the store closed the client gets 503, and nothing
    reaches the upstream either way."""
    async with FakeWebhook("slack") as hook:
        guard = await start_guard(
            smtp={"enabled": False},
            chat={
                "routes": [
                    {
                        "name": "ext",
                        "format": "slack",
                        "audience": "external",
                        "upstream": hook.url("/services/T/B/X"),
                        "quarantine_reply": "accepted",
                    }
                ]
            },
        )
        await guard.services.store.close()
        status_down, _ = await _post(guard.url("/hooks/ext"), f"card {CARD}")
        await guard.services.store.open()
        status_up, body = await _post(guard.url("/hooks/ext"), f"card {CARD}")
        held = await guard.services.store.list()
    assert status_down == 503 and status_up == 202
    assert [h.id for h in held] == [json.loads(body)["id"]]
    assert hook.requests == []
