"""WebhookForwarder against real aiohttp upstreams: URL joining, one shared session, failures."""

from __future__ import annotations

import pytest

from guard.delivery.webhook import WebhookForwarder, join_upstream
from guard.errors import UpstreamTimeout, UpstreamUnreachable
from guard.testing_webhook import FakeWebhook


@pytest.mark.parametrize(
    ("upstream", "tail", "query", "expected"),
    [
        ("http://h/a/b", "", "", "http://h/a/b"),
        ("http://h/a/b/", "c/d", "", "http://h/a/b/c/d"),
        ("http://h/a?sig=S%2F1", "", "wait=True", "http://h/a?sig=S%2F1&wait=True"),
        ("http://h/a?sig=1", "t%20x", "q=%E2%82%AC", "http://h/a/t%20x?sig=1&q=%E2%82%AC"),
    ],
)
def test_join_upstream_keeps_encoding(upstream: str, tail: str, query: str, expected: str) -> None:
    assert str(join_upstream(upstream, tail, query)) == expected


async def test_one_session_reused_and_closed() -> None:
    fwd = WebhookForwarder(5)
    async with FakeWebhook("slack") as hook:
        url = join_upstream(hook.url("/s"), "", "")
        first = fwd.session()
        reply = await fwd.post(url, b'{"text":"a"}', {"Content-Type": "application/json", "Cookie": "x=1"})
        await fwd.post(url, b'{"text":"b"}', {"Content-Type": "application/json"})
        assert fwd.session() is first
        assert (reply.status, reply.body, reply.content_type) == (200, b"ok", "text/plain; charset=utf-8")
        assert "Cookie" not in hook.requests[0].headers
        assert "Accept-Encoding" not in hook.requests[1].headers  # not added by the guard
    await fwd.close()
    assert first.closed


async def test_timeout_and_refused() -> None:
    fwd = WebhookForwarder(0.2)
    try:
        async with FakeWebhook("slack", delay_s=1.0) as slow:
            with pytest.raises(UpstreamTimeout):
                await fwd.post(join_upstream(slow.url("/s"), "", ""), b"{}", {})
        with pytest.raises(UpstreamUnreachable):
            await fwd.post(join_upstream(slow.url("/s"), "", ""), b"{}", {})
    finally:
        await fwd.close()
