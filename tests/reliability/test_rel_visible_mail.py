"""Every byte a mail recipient can see is inspected, through the real SMTP listener (issue 11).

Each case hides a card number generated here (Luhn computed, never a real one) in one place a
recipient can see: a display name, a header past the 600th, an HTML comment or attribute, a
multipart preamble, unpadded base64, a UTF-16 export, a tar/7z/TNEF member, a DOCX footnote, a
PDF form field... It is sent to the guard's SMTP listener and must be held with nothing relayed;
the same shape with a clean text is the control and must reach the upstream sink. What cannot
be read (PGP, S/MIME, password-protected documents, RAR, unknown binaries) must be held; its
readable twin (a signature, a plain PDF, a PNG, a ZIP) must pass. Real delivery reports and
list mail (CPython's email test data) are not "bulk contacts". docs/reliability.md ("Every byte
a recipient can see") quotes the counts printed here.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import pytest

from guard.testing import SmtpSink
from tests.inspection.visible_formats import luhn_card
from tests.inspection.visible_mail import CASES, UNREADABLE
from tests.reliability.conftest import Guard, GuardFactory
from tests.reliability.relkit import EXTERNAL, SENDER, GuardProcess, smtp_attempt

CARD = luhn_card(seed=23)
HIT = "card " + " ".join(CARD[i : i + 4] for i in range(0, 16, 4))
CLEAN = "order 12 of 3"
CPYTHON_MAIL = Path("/root/.pyenv/versions/3.11.7/lib/python3.11/test/test_email/data")
REPORTS = ("msg_16.txt", "msg_25.txt", "msg_43.txt")  # held as bulk contacts before issue 11


@dataclass
class Env:
    guard: Guard
    sink: SmtpSink


@pytest.fixture
async def env(start_guard: GuardFactory, sink: SmtpSink) -> AsyncIterator[Env]:
    guard = await start_guard(smtp={"upstream": sink.url})
    yield Env(guard, sink)


async def _send(env: Env, raw: bytes, rcpts: tuple[str, ...] = (EXTERNAL,)) -> tuple[str, str]:
    """('held' | 'relayed' | other outcome, reply text) for one message."""
    before = len(env.sink.messages)
    attempt = await smtp_attempt(env.guard.smtp_port, raw, tag="visible", kind="card", rcpts=rcpts)
    if attempt.outcome != "acked":
        return f"{attempt.outcome} {attempt.code}", attempt.text[:120]
    if "Held for security review" in attempt.text:
        await asyncio.sleep(0.05)
        return ("held" if len(env.sink.messages) == before else "held-but-relayed"), attempt.text[:120]
    await env.sink.wait_for(before + 1)
    return "relayed", attempt.text[:120]


def _classes() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for case, (cls, _) in CASES.items():
        out.setdefault(cls, []).append(case)
    return out


CLASSES = _classes()


def _report(cls: str, rows: list[tuple[str, str, str]]) -> None:
    hits = sum(1 for _, hit, _ in rows if hit == "held")
    controls = sum(1 for _, _, ctl in rows if ctl == "relayed")
    print(f"\nVISIBLE mail/{cls}: {len(rows)} cases, {hits} held, {controls} controls relayed")


@pytest.mark.parametrize("cls", sorted(CLASSES))
async def test_a_value_hidden_anywhere_visible_is_held_and_the_control_passes(env: Env, cls: str) -> None:
    rows = []
    for case in CLASSES[cls]:
        _, build = CASES[case]
        hit, _ = await _send(env, build(HIT))
        control, _ = await _send(env, build(CLEAN))
        rows.append((case, hit, control))
    _report(cls, rows)
    assert [r for r in rows if r[1] != "held" or r[2] != "relayed"] == []


async def test_the_envelope_addresses_are_inspected(env: Env) -> None:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = SENDER, EXTERNAL, "hello"
    m.set_content("Hello.")
    local = HIT.replace(" ", ".")
    hit, _ = await _send(env, m.as_bytes(), rcpts=(f"{local}@partner.net",))
    control, _ = await _send(env, m.as_bytes(), rcpts=(f"{CLEAN.replace(' ', '.')}@partner.net",))
    _report("Envelope", [("rcpt-local-part", hit, control)])
    assert (hit, control) == ("held", "relayed")


async def test_what_cannot_be_read_is_held_and_its_readable_twin_passes(env: Env) -> None:
    rows = []
    for case, build in UNREADABLE.items():
        locked, reply = await _send(env, build(True))
        twin, _ = await _send(env, build(False))
        rows.append((case, locked, twin))
        assert "UNSCANNABLE" in reply or locked != "held", (case, reply)
    _report("Unreadable (encrypted, unknown binary)", rows)
    assert [r for r in rows if r[1] != "held" or r[2] != "relayed"] == []


@pytest.mark.skipif(not CPYTHON_MAIL.is_dir(), reason="CPython's email test data not installed")
async def test_delivery_reports_and_list_mail_are_not_bulk_contacts(env: Env) -> None:
    outcomes: Counter[str] = Counter()
    for name in REPORTS:
        outcome, reply = await _send(env, (CPYTHON_MAIL / name).read_bytes())
        outcomes[outcome] += 1
        assert outcome == "relayed", (name, reply)
    print(
        f"\nVISIBLE mail/Trace and threading headers: {len(REPORTS)} real reports relayed: {dict(outcomes)}"
    )


# -- a 1 MiB adversarial HTML mail, through a real `guard serve` process ---------------------------
def _adversarial_html_mail(size: int) -> bytes:
    unit = "<a <b x=1 <div y=2 "  # tags that never close: quadratic for the stdlib html.parser
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = SENDER, EXTERNAL, "newsletter"
    m.set_content("<html><body>" + unit * (size // len(unit)) + f"><p>{HIT}</p>", subtype="html")
    return m.as_bytes()


async def _healthz_latencies(port: int, stop: asyncio.Event) -> list[float]:
    out: list[float] = []
    async with aiohttp.ClientSession() as http:
        while not stop.is_set():
            t0 = time.monotonic()
            async with http.get(
                f"http://127.0.0.1:{port}/healthz", timeout=aiohttp.ClientTimeout(total=10)
            ) as r:
                assert r.status == 200
            out.append(time.monotonic() - t0)
            await asyncio.sleep(0.02)
    return out


@pytest.mark.slow
async def test_a_1_mib_adversarial_html_mail_does_not_stall_the_guard(tmp_path: Path, sink: SmtpSink) -> None:
    guard = GuardProcess(tmp_path / "guard", {"smtp": {"upstream": sink.url}})
    await guard.start()
    try:
        raw = await asyncio.to_thread(_adversarial_html_mail, 1024 * 1024)
        stop = asyncio.Event()
        probe = asyncio.create_task(_healthz_latencies(guard.http_port, stop))
        await asyncio.sleep(0.2)
        t0 = time.monotonic()
        attempt = await smtp_attempt(
            guard.smtp_port, raw, tag="html", kind="card", rcpts=[EXTERNAL], timeout=60
        )
        seconds = time.monotonic() - t0
        await asyncio.sleep(0.1)
        stop.set()
        latencies = await probe
    finally:
        await guard.stop()
    worst = max(latencies)
    median = sorted(latencies)[len(latencies) // 2]
    print(
        f"\nVISIBLE mail/html-1MiB: {len(raw) // 1024} KiB -> {attempt.code} in {seconds:.2f}s "
        f"(DATA to reply); /healthz {len(latencies)} probes, median {median * 1000:.0f} ms, "
        f"worst {worst * 1000:.0f} ms"
    )
    assert attempt.code == 250 and "Held for security review" in attempt.text
    assert not sink.messages
    # The stdlib html.parser stalled the loop for 17 s on 90 KiB. The HTML reading itself holds
    # the GIL for at most ~30 ms (tests/inspection); the worst probe here (100-350 ms on this
    # shared machine) is also seen with a plain-text mail of the same size, outside extraction.
    assert median < 0.1 and worst < 1.0, [round(x, 3) for x in latencies]
