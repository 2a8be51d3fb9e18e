"""The review UI over real HTTP: login, roles, CSRF, masking, release exactly once, failures, four-eyes."""

from __future__ import annotations

import asyncio
import smtplib

import aiohttp
from quarantine_helpers import CARD, PASSWORDS, SSN, TOTP_SECRET, chat_item, mail_item
from review_client import ReviewClient, csrf_of

from guard.review.auth import totp
from guard.review.release import TRACE_HEADER
from guard.store.base import Status


async def test_login_required_and_wrong_password_refused(make_guard) -> None:
    g = await make_guard()
    async with ReviewClient(g.base) as c:
        status, page = await c.get("/review/queue")
        assert status == 200 and "Log in" in page  # redirected to the login page
        status, page = await c.login("alice", "wrong-password")
        assert status == 401 and "Wrong user name, password or code." in page
        status, page = await c.login("nobody", "whatever-pass")
        assert status == 401 and "Wrong user name, password or code." in page


async def test_lockout_after_repeated_failures(make_guard) -> None:
    g = await make_guard(review={"lockout_after": 3})
    async with ReviewClient(g.base) as c:
        for _ in range(3):
            assert (await c.login("rita", "bad-password"))[0] == 401
        status, page = await c.login("rita", PASSWORDS["rita"])  # right password, still locked
        assert status == 429 and "locked" in page
        status, _ = await c.login("alice", PASSWORDS["alice"])  # other users are not affected
        assert status == 200


async def test_login_form_without_csrf_is_refused(make_guard) -> None:
    g = await make_guard()
    async with (
        aiohttp.ClientSession() as s,
        s.post(g.base + "/review/login", data={"username": "alice", "password": PASSWORDS["alice"]}) as r,
    ):
        assert r.status == 403
        assert "guard_review" not in r.cookies


async def test_totp_second_factor(make_guard) -> None:
    g = await make_guard()
    async with ReviewClient(g.base) as c:
        status, page = await c.login("tom", PASSWORDS["tom"])
        assert status == 401 and "6-digit code" in page
        status, page = await c.login(
            "tom", PASSWORDS["tom"], "000000" if totp(TOTP_SECRET) != "000000" else "111111"
        )
        assert status == 401
        status, page = await c.login("tom", PASSWORDS["tom"], totp(TOTP_SECRET))
        assert status == 200 and "Quarantine queue" in page


async def test_required_totp_refuses_users_without_one(make_guard) -> None:
    g = await make_guard(review={"require_totp": True})
    async with ReviewClient(g.base) as c:
        status, page = await c.login("alice", PASSWORDS["alice"])
        assert status == 403 and "second factor is required" in page


async def test_session_cookie_flags(make_guard) -> None:
    g = await make_guard(review={"secure_cookies": True})
    async with aiohttp.ClientSession() as s:  # a Secure cookie is not sent back over http: do it by hand
        host = {"Host": "review.example.com"}  # as addressed through a TLS-terminating proxy
        async with s.get(g.base + "/review/login", headers=host) as r:
            pre = r.cookies["guard_login"].value
            csrf = csrf_of(await r.text())
        async with s.post(
            g.base + "/review/login",
            allow_redirects=False,
            headers={"Cookie": f"guard_login={pre}", **host},
            data={"csrf": csrf, "username": "alice", "password": PASSWORDS["alice"]},
        ) as r:
            assert r.status == 303
            cookie = next(c for c in r.headers.getall("Set-Cookie") if c.startswith("guard_review="))
        assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Strict" in cookie
        assert "Path=/review" in cookie
        async with s.get(g.base + "/review/login") as r:  # http://127.0.0.1: a first try on a laptop
            assert "Secure" not in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]


async def test_viewer_sees_masked_values_reviewer_sees_them_highlighted(make_guard) -> None:
    g = await make_guard()
    item_id = await g.store.put(mail_item())
    async with ReviewClient(g.base) as viewer:
        await viewer.login("vera", PASSWORDS["vera"])
        _, queue = await viewer.get("/review/queue")
        assert item_id in queue and "CREDIT_CARD" in queue
        assert CARD not in queue
        _, detail = await viewer.get(f"/review/items/{item_id}")
        assert CARD not in detail and SSN not in detail and "4111111111111111" not in detail
        assert "**** **** **** 1111" in detail and "values masked for your role" in detail
        assert "Release and deliver" not in detail
    async with ReviewClient(g.base) as reviewer:
        await reviewer.login("alice", PASSWORDS["alice"])
        _, detail = await reviewer.get(f"/review/items/{item_id}")
        assert '<mark class="hit" title="CREDIT_CARD' in detail and f">{CARD}<small>" in detail
        assert "Release and deliver" in detail
    views = [e for e in await g.store.audit_entries(item_id=item_id) if e.action == "view"]
    assert [e.actor for e in views] == ["alice"]  # a reviewer's look at the values is audited


async def test_release_from_the_ui_delivers_once(make_guard, smtp_sink) -> None:
    g = await make_guard(smtp={"upstream": smtp_sink.url})
    item_id = await g.store.put(mail_item())
    async with ReviewClient(g.base) as c:
        await c.login("alice", PASSWORDS["alice"])
        await c.get(f"/review/items/{item_id}")
        status, url, page = await c.post(f"/review/items/{item_id}/release", {"reason": "customer consent"})
        assert status == 200 and url.endswith("msg=released") and "Released" in page
        status, url, page = await c.post(f"/review/items/{item_id}/release", {"reason": "again"})
        assert url.endswith("msg=conflict")
    [msg] = await smtp_sink.wait_for(1)
    await asyncio.sleep(0.1)
    assert len(smtp_sink.messages) == 1
    assert msg.rcpt_tos == ("customer@example.net",) and msg.mail_from == "agent@example.com"
    assert str(msg.header(TRACE_HEADER)).startswith(f"{item_id}; by=alice")
    assert CARD.encode() in msg.content  # the original bytes, not a redacted copy
    s = await g.store.summary(item_id)
    assert s.status == Status.RELEASED and s.decided_by == "alice"
    reasons = [e.details.get("reason") for e in await g.store.audit_entries(item_id=item_id)]
    assert "customer consent" in reasons


async def test_post_without_csrf_or_cross_site_is_refused(make_guard, smtp_sink) -> None:
    g = await make_guard(smtp={"upstream": smtp_sink.url})
    item_id = await g.store.put(mail_item())
    async with ReviewClient(g.base) as c:
        await c.login("alice", PASSWORDS["alice"])
        status, _, page = await c.post(f"/review/items/{item_id}/release", csrf=False)
        assert status == 403 and "CSRF" in page
        status, _, page = await c.post(f"/review/items/{item_id}/release", {"csrf": "forged"}, csrf=False)
        assert status == 403
        status, _, page = await c.post(
            f"/review/items/{item_id}/release", headers={"Origin": "https://evil.example"}
        )
        assert status == 403 and "Cross-site" in page
    assert (await g.store.summary(item_id)).status == Status.HELD
    assert smtp_sink.messages == []


async def test_viewer_cannot_release_or_reject(make_guard, smtp_sink) -> None:
    g = await make_guard(smtp={"upstream": smtp_sink.url})
    item_id = await g.store.put(mail_item())
    async with ReviewClient(g.base) as c:
        await c.login("vera", PASSWORDS["vera"])
        await c.get(f"/review/items/{item_id}")
        for action in ("release", "reject", "approve", "note"):
            status, _, page = await c.post(f"/review/items/{item_id}/{action}", {"note": "x"})
            assert status == 403 and "role does not allow" in page
    assert (await g.store.summary(item_id)).status == Status.HELD
    assert smtp_sink.messages == []


async def test_failed_delivery_is_visible_and_retriable(make_guard, smtp_sink) -> None:
    g = await make_guard(smtp={"upstream": smtp_sink.url})
    item_id = await g.store.put(mail_item())
    smtp_sink.fail_with("451 4.3.0 try again later", times=1)
    async with ReviewClient(g.base) as c:
        await c.login("alice", PASSWORDS["alice"])
        await c.get(f"/review/items/{item_id}")
        _, url, page = await c.post(f"/review/items/{item_id}/release")
        assert url.endswith("msg=release_failed") and "Delivery failed" in page and "451" in page
        _, queue = await c.get("/review/queue?status=release_failed")
        assert item_id in queue
        _, url, _ = await c.post(f"/review/items/{item_id}/release")
        assert url.endswith("msg=released")
    await smtp_sink.wait_for(1)
    assert len(smtp_sink.messages) == 1
    s = await g.store.summary(item_id)
    assert (s.status, s.attempts) == (Status.RELEASED, 2)


async def test_reject_with_notice_to_sender(make_guard, smtp_sink) -> None:
    g = await make_guard(smtp={"upstream": smtp_sink.url})
    item_id = await g.store.put(mail_item())
    async with ReviewClient(g.base) as c:
        await c.login("alice", PASSWORDS["alice"])
        await c.get(f"/review/items/{item_id}")
        _, url, _ = await c.post(
            f"/review/items/{item_id}/reject", {"reason": "use the portal", "notify": "on"}
        )
        assert url.endswith("msg=rejected_notified")
    [notice] = await smtp_sink.wait_for(1)
    assert notice.rcpt_tos == ("agent@example.com",) and notice.mail_from in ("", "<>")  # null sender
    body = notice.content.decode()
    assert item_id in body and "use the portal" in body and "CREDIT_CARD" in body
    assert CARD not in body and "4111" not in body
    assert (await g.store.summary(item_id)).status == Status.REJECTED


async def test_four_eyes_needs_a_second_reviewer(make_guard, smtp_sink) -> None:
    g = await make_guard(smtp={"upstream": smtp_sink.url}, review={"four_eyes": True})
    item_id = await g.store.put(mail_item())
    async with ReviewClient(g.base) as alice, ReviewClient(g.base) as rita:
        await alice.login("alice", PASSWORDS["alice"])
        await rita.login("rita", PASSWORDS["rita"])
        await alice.get(f"/review/items/{item_id}")
        _, url, _ = await alice.post(f"/review/items/{item_id}/release")
        assert url.endswith("msg=four_eyes")
        _, url, _ = await alice.post(f"/review/items/{item_id}/approve")
        assert url.endswith("msg=approved")
        _, url, _ = await alice.post(f"/review/items/{item_id}/release")
        assert url.endswith("msg=four_eyes")  # her own approval does not count for her release
        await rita.get(f"/review/items/{item_id}")
        _, url, _ = await rita.post(f"/review/items/{item_id}/release")
        assert url.endswith("msg=released")
    await smtp_sink.wait_for(1)
    assert len(smtp_sink.messages) == 1


async def test_nobody_releases_their_own_message(make_guard, review_users, smtp_sink) -> None:
    own = {**review_users[0], "name": "agent@example.com"}
    g = await make_guard(smtp={"upstream": smtp_sink.url}, review={"users": [*review_users, own]})
    item_id = await g.store.put(mail_item(sender="agent@example.com"))
    async with ReviewClient(g.base) as c:
        await c.login("agent@example.com", PASSWORDS["alice"])
        _, detail = await c.get(f"/review/items/{item_id}")
        assert "This is your own message" in detail
        _, url, _ = await c.post(f"/review/items/{item_id}/release")
        assert url.endswith("msg=own")
    assert smtp_sink.messages == []


async def test_chat_item_release_posts_the_original_body(make_guard, webhook_sink) -> None:
    route = {"name": "support", "format": "slack", "upstream": webhook_sink.url(), "audience": "external"}
    g = await make_guard(chat={"routes": [route]})
    new = chat_item("support")
    item_id = await g.store.put(new)
    async with ReviewClient(g.base) as c:
        await c.login("alice", PASSWORDS["alice"])
        await c.get(f"/review/items/{item_id}")
        _, url, _ = await c.post(f"/review/items/{item_id}/release")
        assert url.endswith("msg=released")
    [req] = webhook_sink.requests
    assert req["body"] == new.content and req["path"] == "/services/T0/B0/X"
    assert req["headers"][TRACE_HEADER].startswith(item_id)


async def test_notes_logout_and_audit_page(make_guard) -> None:
    g = await make_guard()
    item_id = await g.store.put(mail_item())
    async with ReviewClient(g.base) as c:
        await c.login("adam", PASSWORDS["adam"])
        await c.get(f"/review/items/{item_id}")
        _, url, page = await c.post(f"/review/items/{item_id}/note", {"note": "called the customer"})
        assert url.endswith("msg=noted") and "called the customer" in page
        status, audit = await c.get("/review/audit")
        assert status == 200 and "Hash chain verified" in audit
        _, url, _ = await c.post("/review/logout")
        assert "msg=logged_out" in url
        status, page = await c.get("/review/queue")
        assert "Log in" in page
    async with ReviewClient(g.base) as c:
        await c.login("alice", PASSWORDS["alice"])
        status, _ = await c.get("/review/audit")
        assert status == 403


async def test_mail_through_the_smtp_listener_is_held_then_released_once(make_guard, smtp_sink) -> None:
    """The whole path: a real SMTP client -> guard holds it -> reviewer releases -> sink gets it once."""
    g = await make_guard(smtp={"upstream": smtp_sink.url})
    raw = (
        f"From: agent@example.com\r\nTo: customer@northwind.test\r\nSubject: your refund\r\n\r\n"
        f"Hi, the card {CARD} was refunded.\r\n"
    ).encode()

    def send() -> str:
        with smtplib.SMTP("127.0.0.1", g.smtp_port, timeout=10) as s:
            code, reply = s.ehlo()
            s.mail("agent@example.com")
            s.rcpt("customer@northwind.test")
            code, reply = s.data(raw)
            return f"{code} {reply.decode()}"

    reply = await asyncio.to_thread(send)
    assert reply.startswith("250") and "Q-" in reply
    item_id = "Q-" + reply.split("Q-", 1)[1][:8]
    assert smtp_sink.messages == []
    async with ReviewClient(g.base) as c:
        await c.login("alice", PASSWORDS["alice"])
        _, queue = await c.get("/review/queue")
        assert item_id in queue
        _, detail = await c.get(f"/review/items/{item_id}")
        assert CARD in detail
        _, url, _ = await c.post(f"/review/items/{item_id}/release")
        assert url.endswith("msg=released")
    [msg] = await smtp_sink.wait_for(1)
    await asyncio.sleep(0.1)
    assert len(smtp_sink.messages) == 1 and CARD.encode() in msg.content


async def test_login_page_says_how_to_add_the_first_user(make_guard) -> None:
    g = await make_guard(review={"users": []})
    async with ReviewClient(g.base) as c:
        _, page = await c.get("/review/login")
    assert "No review users are configured yet" in page and "guard user add" in page
