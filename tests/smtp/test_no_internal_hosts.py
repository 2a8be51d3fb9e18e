"""Replies never show the guard's internal upstream: no host, address, port or URL."""

from __future__ import annotations

from guard.testing import SmtpSink, build_message
from tests.conftest import free_port
from tests.smtp.conftest import GuardFactory
from tests.smtp.helpers import EXTERNAL, send

RAW = build_message(to=EXTERNAL, body="hello\n")


async def test_451_for_an_unreachable_upstream_names_no_host_or_port(start_guard: GuardFactory) -> None:
    port = free_port()
    guard = await start_guard(upstream=f"smtp://127.0.0.1:{port}")
    sent = await send(guard.port, RAW)
    assert sent.code == 451 and sent.text.startswith("4.4.1 upstream unreachable")
    assert "127.0.0.1" not in sent.text and str(port) not in sent.text and "smtp://" not in sent.text


async def test_upstream_reply_text_loses_its_address(start_guard: GuardFactory, sink: SmtpSink) -> None:
    guard = await start_guard()
    sink.fail_with("451 4.3.0 relay 127.0.0.1:2525 [::1] busy")
    sent = await send(guard.port, RAW)
    assert sent.code == 451 and "busy" in sent.text
    assert "127.0.0.1" not in sent.text and "2525" not in sent.text and "::1" not in sent.text
