"""The review UI in a real browser (Debian Chromium, headless, via Playwright).

Mail goes in through the guard's SMTP listener, the reviewer works in Chromium, the upstream
sink must receive the released message exactly once. Set GUARD_UPDATE_SCREENSHOTS=1 to
rewrite docs/review-queue.png and docs/review-detail.png.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import smtplib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from quarantine_helpers import CARD, PASSWORDS

from guard.store.base import Status

pytestmark = [pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parents[2] / "docs"

MAILS = [
    ("refund for order 5521", f"Hi Dana,\n\nI refunded the card {CARD} (exp 09/27) today.\nRegards, Sam"),
    ("payroll change", "Please move my salary to IBAN DE89 3704 0044 0532 0130 00 from next month."),
    (
        "account verification",
        "The customer social security number is 536-22-8741, please verify the account.",
    ),
]


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as p:
        b = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield b
        finally:
            await b.close()


def submit(port: int, subject: str, body: str, rcpt: str = "dana@northwind.test") -> str:
    raw = (
        f"From: sam@example.com\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body.replace(chr(10), chr(13) + chr(10))}\r\n"
    ).encode()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.ehlo()
        s.mail("sam@example.com")
        s.rcpt(rcpt)
        code, reply = s.data(raw)
    text = reply.decode()
    assert code == 250 and "Q-" in text, text
    return "Q-" + text.split("Q-", 1)[1][:8]


async def login(page: Any, base: str, user: str) -> None:
    await page.goto(f"{base}/review/queue")
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", PASSWORDS[user])
    await page.click("button[type=submit]")
    await page.wait_for_url("**/review/queue")


def shot_path(tmp_path: Path, name: str) -> Path:
    return DOCS / name if os.environ.get("GUARD_UPDATE_SCREENSHOTS") else tmp_path / name


async def test_reviewer_releases_a_held_mail_and_the_sink_gets_it_once(
    make_guard: Any, smtp_sink: Any, browser: Any, tmp_path: Path
) -> None:
    g = await make_guard(smtp={"upstream": smtp_sink.url}, review={"secure_cookies": True})
    ids = [await asyncio.to_thread(submit, g.smtp_port, subject, body) for subject, body in MAILS]
    assert smtp_sink.messages == []  # held, not relayed
    page = await browser.new_page(viewport={"width": 1280, "height": 860})
    await login(page, g.base, "alice")
    for item_id in ids:
        assert await page.locator(f"a.id:text('{item_id}')").count() == 1
    assert CARD not in await page.content()  # the queue lists masked subjects and types only
    await page.screenshot(path=str(shot_path(tmp_path, "review-queue.png")))

    await page.click(f"a.id:text('{ids[0]}')")
    await page.wait_for_url(f"**/review/items/{ids[0]}")
    hit = page.locator("mark.hit").first
    assert CARD in await hit.inner_text()
    assert "CREDIT_CARD" in await page.locator("table.findings").inner_text()
    await page.fill(
        "form[action$='/release'] input[name=reason]", "customer asked for a copy; confirmed by phone"
    )
    await page.screenshot(path=str(shot_path(tmp_path, "review-detail.png")), full_page=True)
    await page.click("form[action$='/release'] button[type=submit]")
    await page.wait_for_url("**msg=released")
    assert "Released" in await page.locator(".flash").inner_text()
    assert "Release and deliver" not in await page.content()

    [msg] = await smtp_sink.wait_for(1)
    await page.go_back()  # a stale form posted again must not deliver twice
    await page.reload()
    await asyncio.sleep(0.3)
    assert len(smtp_sink.messages) == 1
    assert msg.rcpt_tos == ("dana@northwind.test",) and CARD.encode() in msg.content
    assert str(msg.header("X-Guard-Released")).startswith(f"{ids[0]}; by=alice")
    assert (await g.store.summary(ids[0])).status == Status.RELEASED
    assert (await g.store.summary(ids[1])).status == Status.HELD


async def test_viewer_cannot_release(make_guard: Any, smtp_sink: Any, browser: Any) -> None:
    g = await make_guard(smtp={"upstream": smtp_sink.url})
    item_id = await asyncio.to_thread(submit, g.smtp_port, *MAILS[0])
    page = await browser.new_page()
    await login(page, g.base, "vera")
    await page.goto(f"{g.base}/review/items/{item_id}")
    content = await page.content()
    assert "values masked for your role" in content and CARD not in content
    assert await page.locator("form[action$='/release']").count() == 0
    csrf = await page.locator("form[action$='/logout'] input[name=csrf]").get_attribute("value")
    resp = await page.request.post(f"{g.base}/review/items/{item_id}/release", form={"csrf": csrf or ""})
    assert resp.status == 403  # the viewer's own valid session and token do not make it allowed
    assert (await g.store.summary(item_id)).status == Status.HELD
    assert smtp_sink.messages == []


async def test_post_without_csrf_token_is_refused(make_guard: Any, smtp_sink: Any, browser: Any) -> None:
    g = await make_guard(smtp={"upstream": smtp_sink.url})
    item_id = await asyncio.to_thread(submit, g.smtp_port, *MAILS[0])
    context = await browser.new_context()
    page = await context.new_page()
    await login(page, g.base, "alice")

    # 1. Same browser, valid session cookie, but no token: refused.
    resp = await page.request.post(f"{g.base}/review/items/{item_id}/release", form={"reason": "x"})
    assert resp.status == 403 and "CSRF" in await resp.text()

    # 2. A cross-site page (other origin) auto-posts a release form to the guard: refused.
    async def evil(request: web.Request) -> web.Response:
        return web.Response(
            content_type="text/html",
            text=(
                f'<form id="f" method="post" action="{g.base}/review/items/{item_id}/release">'
                '<input name="reason" value="pwned"></form>'
                '<script>document.getElementById("f").submit()</script>'
            ),
        )

    app = web.Application()
    app.router.add_get("/", evil)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "localhost", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        await page.goto(f"http://localhost:{port}/")
        await page.wait_for_url(f"{g.base}/review/items/{item_id}/release")
        assert (
            "refused" in (await page.content()).lower() or "not logged in" in (await page.content()).lower()
        )
    finally:
        await runner.cleanup()
    await asyncio.sleep(0.2)
    assert (await g.store.summary(item_id)).status == Status.HELD
    assert smtp_sink.messages == []
    await context.close()
