"""Attacks the guard must refuse: open relay tricks, AUTH brute force, unauthenticated or
under-privileged review access, CSRF, session fixation, missing security headers, SSRF
through chat routes. Each test counts what it tried and prints it.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import smtplib
import time
from collections import Counter
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from guard.http.app import build_http_app
from guard.review.auth import SESSION_COOKIE
from guard.smtp.auth import hash_password
from guard.testing import SmtpSink, build_message
from guard.testing_webhook import FakeWebhook
from tests.quarantine_helpers import mail_item
from tests.reliability.conftest import Guard, GuardFactory
from tests.reliability.relkit import SENDER, smtp_attempt
from tests.reliability.sensitive_samples import CARD
from tests.review.review_client import ReviewClient, csrf_of

# -- open relay --------------------------------------------------------------------------------------
#: Recipients that try to route somewhere other than where they seem to go.
TRICKY_RECIPIENTS = [
    "bob@partner.net",
    "carol@example.com",  # even internal ones: the guard is not a local delivery agent
    "@example.com:bob@partner.net",  # source route
    "@example.com,@mx.example.com:bob@partner.net",
    "bob%partner.net@example.com",  # percent hack
    "partner.net!bob@example.com",  # bang path
    "bob@partner.net@example.com",  # user@external@internal
    "carol@example.com@partner.net",  # user@internal@external
    '"bob@partner.net"@example.com',  # quoted local part
    "bob@partner.net.",
    "bob@[203.0.113.7]",
    "postmaster",
    "bob@example.com.partner.net",
]


async def test_no_open_relay_for_clients_outside_relay_networks(
    start_guard: GuardFactory, sink: SmtpSink
) -> None:
    guard = await start_guard(
        smtp={
            "upstream": sink.url,
            "relay_networks": ["10.0.0.0/8"],
            "users": [{"name": "agent", "password_hash": hash_password("right-password")}],
        },
        http={"enabled": False},
    )
    refused: Counter[int] = Counter()
    tries = [(r, None) for r in TRICKY_RECIPIENTS] + [
        (r, ("agent", "wrong-password")) for r in TRICKY_RECIPIENTS[:3]
    ]
    for rcpt, login in tries:
        got = await asyncio.to_thread(_send_plain, guard.smtp_port, rcpt, login)
        refused[got] += 1
    # 550 5.7.1 relaying denied, or 553/501 for addresses that are not even well-formed
    assert set(refused) <= {550, 553, 501}, refused
    assert sink.messages == []
    denied = guard.services.metrics.registry.get_sample_value("guard_smtp_relay_denied_total") or 0
    assert denied == refused[550]  # every relay refusal is counted
    # The same client, authenticated, may relay (and the mail is then inspected).
    assert (
        await asyncio.to_thread(_send_plain, guard.smtp_port, "bob@partner.net", ("agent", "right-password"))
        == 250
    )
    print(
        f"\nATTACK open-relay: {len(tries)} unauthenticated/wrong-password attempts -> "
        f"{dict(refused)}, relayed 0, guard_smtp_relay_denied_total={int(denied)}"
    )


def _send_plain(port: int, rcpt: str, login: tuple[str, str] | None) -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo("client.test")
        if login is not None:
            try:
                client.login(*login)
            except smtplib.SMTPAuthenticationError as exc:
                if exc.smtp_code != 535:
                    raise
        try:
            client.sendmail(SENDER, [rcpt], build_message(to="x@partner.net"))
        except smtplib.SMTPRecipientsRefused as exc:
            return int(next(iter(exc.recipients.values()))[0])
        except smtplib.SMTPResponseException as exc:
            return exc.smtp_code
        return 250


async def test_tricky_recipients_of_a_permitted_client_never_get_a_card_out(
    start_guard: GuardFactory, sink: SmtpSink
) -> None:
    """A permitted client cannot dress an external destination up as internal."""
    guard = await start_guard(smtp={"upstream": sink.url}, http={"enabled": False})
    outcomes: Counter[str] = Counter()
    for rcpt in TRICKY_RECIPIENTS:
        if rcpt in ("carol@example.com",):
            continue  # genuinely internal: allowed by policy
        raw = build_message(to="customer@partner.net", body=f"card {CARD}\n")
        attempt = await smtp_attempt(guard.smtp_port, raw, tag=rcpt, kind="card", rcpts=[rcpt])
        outcomes[f"{attempt.code}"] += 1
        assert not sink.messages, f"{rcpt}: relayed ({attempt.code} {attempt.text})"
        assert attempt.outcome in ("acked", "refused") and "Relayed" not in attempt.text, (rcpt, attempt)
    print(
        f"\nATTACK relay-tricks: {sum(outcomes.values())} card mails to disguised recipients -> "
        f"{dict(outcomes)}, relayed 0"
    )


async def test_auth_brute_force_is_counted_slowed_and_cut_off(start_guard: GuardFactory) -> None:
    guard = await start_guard(
        smtp={
            "users": [{"name": "agent", "password_hash": hash_password("right-password")}],
            "max_errors": 5,
        },
        http={"enabled": False},
    )

    def hammer() -> tuple[int, int, bool]:
        tries = closed = 0
        with smtplib.SMTP("127.0.0.1", guard.smtp_port, timeout=10) as client:
            client.ehlo("x")
            client.user = "agent"
            for i in range(50):
                client.password = f"guess-{i}"
                try:
                    client.auth("PLAIN", client.auth_plain, initial_response_ok=True)
                except smtplib.SMTPAuthenticationError as exc:
                    if exc.smtp_code == 421:  # the error budget is spent: the guard hangs up
                        closed = 1
                        break
                    assert exc.smtp_code == 535
                    tries += 1
                except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException, ConnectionError):
                    closed = 1
                    break
        return tries, closed, True

    t0 = time.monotonic()
    results = await asyncio.gather(*(asyncio.to_thread(hammer) for _ in range(3)))
    elapsed = time.monotonic() - t0
    tries = sum(r[0] for r in results)
    failures = guard.services.metrics.registry.get_sample_value("guard_smtp_auth_failures_total")
    assert all(r[1] for r in results), "a connection survived its error budget"
    assert all(r[0] <= 5 for r in results)
    assert failures == tries
    rate = tries / elapsed
    print(
        f"\nATTACK auth-brute-force: 3 connections x 50 guesses -> {tries} answered 535, each connection "
        f"closed (421) after its error budget; counted {int(failures)}; {rate:.0f} guesses/s overall"
    )


# -- review UI and API ---------------------------------------------------------------------------------
TOKENS = {role: f"tok-sec-{role}" for role in ("agent", "viewer", "reviewer", "admin")}
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/openapi.yaml"),
    ("GET", "/api/v1/openapi-quarantine.yaml"),
    ("GET", "/review/login"),
    ("POST", "/review/login"),
    ("GET", "/review/static/"),
}


@pytest.fixture
async def review_guard(start_guard: GuardFactory, sink: SmtpSink) -> tuple[Guard, str]:
    from guard.review.auth import hash_password as review_hash

    users = [
        {"name": n, "password_hash": review_hash(f"{n}-password-1"), "role": r}
        for n, r in (("vera", "viewer"), ("rita", "reviewer"), ("adam", "admin"))
    ]
    tokens = [
        {"name": f"{r}-bot", "token_sha256": hashlib.sha256(t.encode()).hexdigest(), "role": r}
        for r, t in TOKENS.items()
    ]
    guard = await start_guard(
        smtp={"upstream": sink.url},
        review={"users": users, "api_tokens": tokens, "secure_cookies": False},
        chat={
            "routes": [
                {
                    "name": "ext",
                    "format": "slack",
                    "upstream": "http://127.0.0.1:9/services/T/B/X",
                    "secret": "route-secret-1",
                }
            ]
        },
    )
    item_id = await guard.services.store.put(mail_item())
    return guard, item_id


def _routes(app: web.Application, prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for resource in app.router.resources():
        info = resource.get_info()
        if "app" in info:  # a sub-application (the review UI)
            out += _routes(info["app"], prefix + info.get("prefix", resource.canonical))
            continue
        path = prefix + (
            info.get("path") or info.get("formatter") or info.get("prefix") or resource.canonical
        )
        for route in resource:
            if route.method != "HEAD":
                out.append((route.method, path))
    return sorted(set(out))


def _fill(path: str, item_id: str) -> str:
    return re.sub(r"\{id\}", item_id, re.sub(r"\{name\}", "ext", re.sub(r"\{tail[^}]*\}", "x", path)))


async def test_every_route_needs_authentication(review_guard: tuple[Guard, str]) -> None:
    """Enumerates the real app's router: every route that is not on the public list refuses
    an anonymous request (401/403 for APIs and forms, a redirect to the login page for pages)."""
    guard, item_id = review_guard
    app = build_http_app(guard.services)
    routes = _routes(app)
    assert len(routes) >= 20
    open_routes: list[tuple[str, str, int]] = []
    checked: Counter[int] = Counter()
    async with aiohttp.ClientSession() as http:
        for method, path in routes:
            if (method, path) in PUBLIC:
                continue
            url = guard.url(_fill(path, item_id) + ("review.css" if path.endswith("/static/") else ""))
            async with http.request(method, url, json={"text": "hi"}, allow_redirects=False) as resp:
                status, location = resp.status, resp.headers.get("Location", "")
            refused = status in (401, 403) or (status in (302, 303) and "/review/login" in location)
            checked[status] += 1
            if not refused:
                open_routes.append((method, path, status))
    assert open_routes == [], open_routes
    assert (await guard.services.store.summary(item_id)).status.value == "held"
    print(
        f"\nATTACK anonymous: {sum(checked.values())} protected routes of {len(routes)} -> {dict(checked)}; "
        f"public by design: {len(PUBLIC)}"
    )


ROLE_MATRIX = [
    # (method, path, minimum role)
    ("GET", "/api/v1/quarantine", "viewer"),
    ("GET", "/api/v1/quarantine/{id}", "viewer"),
    ("POST", "/api/v1/quarantine/{id}/notes", "reviewer"),
    ("POST", "/api/v1/quarantine/{id}/approve", "reviewer"),
    ("POST", "/api/v1/quarantine/{id}/reject", "reviewer"),
    ("GET", "/api/v1/audit/verify", "admin"),
]
ORDER = ["agent", "viewer", "reviewer", "admin"]


async def test_api_roles_are_enforced(review_guard: tuple[Guard, str]) -> None:
    guard, item_id = review_guard
    refused = allowed = 0
    async with aiohttp.ClientSession() as http:
        for method, path, need in ROLE_MATRIX:
            for role in ORDER:
                body = {"note": "n"} if path.endswith("notes") else {"reason": "r"}
                async with http.request(
                    method,
                    guard.url(path.replace("{id}", item_id)),
                    json=body,
                    headers={"Authorization": f"Bearer {TOKENS[role]}"},
                ) as resp:
                    ok = ORDER.index(role) >= ORDER.index(need)
                    if ok:
                        allowed += 1
                        assert resp.status < 400 or resp.status == 409, (method, path, role, resp.status)
                    else:
                        refused += 1
                        assert resp.status == 403, (method, path, role, resp.status)
                    if ok and resp.status < 300:  # reviewers get message content: no cache may keep it
                        assert resp.headers.get("Cache-Control") == "no-store", (method, path, role)
    print(f"\nATTACK roles (API): {refused} under-privileged requests refused 403, {allowed} allowed")


async def test_review_forms_need_csrf_and_same_origin(review_guard: tuple[Guard, str]) -> None:
    guard, item_id = review_guard
    base = guard.url("")
    posts = [
        p
        for m, p in _routes(build_http_app(guard.services))
        if m == "POST" and p.startswith("/review/") and p != "/review/login"
    ]
    refused = 0
    async with ReviewClient(base) as rc:
        await rc.login("adam", "adam-password-1")
        await rc.get(f"/review/items/{item_id}")
        for path in posts:
            url = _fill(path, item_id)
            for kind, kwargs in (
                ("no token", {"csrf": False}),
                ("wrong token", {"csrf": False, "data": {"csrf": "forged", "reason": "x", "note": "x"}}),
                ("cross-site", {"headers": {"Origin": "https://evil.test"}}),
                ("null origin", {"headers": {"Origin": "null"}}),
            ):
                got, _, _ = await rc.post(url, **kwargs)
                assert got == 403, (path, kind, got)
                refused += 1
    assert (await guard.services.store.summary(item_id)).status.value == "held"
    print(f"\nATTACK csrf: {refused} forged form posts over {len(posts)} routes -> 403, item still held")


async def test_session_fixation_and_cookie_flags(review_guard: tuple[Guard, str]) -> None:
    guard, _ = review_guard
    jar = aiohttp.CookieJar(unsafe=True)
    fixed = "v1.attacker-chosen.value"
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        jar.update_cookies({SESSION_COOKIE: fixed})
        async with http.get(guard.url("/review/queue"), allow_redirects=False) as resp:
            assert (
                resp.status == 303 and "/review/login" in resp.headers["Location"]
            )  # the planted value is no session
        async with http.get(guard.url("/review/login")) as resp:
            page = await resp.text()
        async with http.post(
            guard.url("/review/login"),
            allow_redirects=False,
            data={
                "csrf": csrf_of(page),
                "username": "rita",
                "password": "rita-password-1",
                "next": "/review/queue",
            },
        ) as resp:
            assert resp.status == 303
            set_cookie = resp.headers.getall("Set-Cookie")
        issued = next(c for c in set_cookie if c.startswith(SESSION_COOKIE + "="))
        value = issued.split("=", 1)[1].split(";", 1)[0]
        assert value != fixed and len(value) > 40
        flags = issued.lower()
        assert "httponly" in flags and "samesite=strict" in flags and "path=/review" in flags
    # A second login gets a different session: ids are never reused.
    async with ReviewClient(guard.url("")) as a, ReviewClient(guard.url("")) as b:
        await a.login("rita", "rita-password-1")
        await b.login("rita", "rita-password-1")
        ca = a.session.cookie_jar.filter_cookies(URL(guard.url("/review/")))[SESSION_COOKIE].value
        cb = b.session.cookie_jar.filter_cookies(URL(guard.url("/review/")))[SESSION_COOKIE].value
        assert ca != cb
    print(
        "\nATTACK session-fixation: planted cookie refused; "
        "login issues a fresh HttpOnly SameSite=Strict session"
    )


async def test_security_headers_on_every_review_page(review_guard: tuple[Guard, str]) -> None:
    guard, item_id = review_guard
    pages = ["/review/login", "/review/queue", f"/review/items/{item_id}", "/review/audit"]
    async with ReviewClient(guard.url("")) as rc:
        await rc.login("adam", "adam-password-1")
        for page in pages:
            async with rc.session.get(guard.url(page)) as resp:
                h = resp.headers
                assert resp.status == 200, page
                csp = h.get("Content-Security-Policy", "")
                assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp, page
                assert "script-src" not in csp or "'unsafe-inline'" not in csp
                assert h.get("X-Frame-Options") == "DENY" and h.get("X-Content-Type-Options") == "nosniff"
                assert h.get("Cache-Control") == "no-store", page
                assert h.get("Referrer-Policy") in ("same-origin", "no-referrer")
    async with aiohttp.ClientSession() as http, http.get(guard.url("/healthz")) as resp:
        assert resp.headers.get("X-Content-Type-Options") == "nosniff"
    print(
        f"\nATTACK headers: {len(pages)} review pages carry CSP (frame-ancestors 'none'), "
        "X-Frame-Options DENY, "
        "no-store, nosniff"
    )


# -- SSRF through chat routes ---------------------------------------------------------------------------
async def test_a_request_cannot_move_the_webhook_upstream(start_guard: GuardFactory) -> None:
    async with FakeWebhook("slack") as legit, FakeWebhook("generic") as evil:
        guard = await start_guard(
            smtp={"enabled": False},
            chat={"routes": [{"name": "ext", "format": "slack", "upstream": legit.url("/services/T/B/X")}]},
        )
        evil_host = f"127.0.0.1:{evil.port}"
        attempts: list[tuple[str, dict[str, str]]] = [
            ("/hooks/ext/..%2F..%2Fevil", {}),
            ("/hooks/ext/%2e%2e/%2e%2e/x", {}),
            (f"/hooks/ext//{evil_host}/x", {}),
            (f"/hooks/ext/@{evil_host}/x", {}),
            (f"/hooks/ext/http://{evil_host}/x", {}),
            (f"/hooks/ext?url=http://{evil_host}/x", {}),
            ("/hooks/ext", {"Host": evil_host}),
            ("/hooks/ext", {"X-Forwarded-Host": evil_host, "Forwarded": f"host={evil_host}"}),
            (f"/hooks/ext%2F..%2F..%2F{evil_host}", {}),
            ("/hooks/ext/%0d%0aHost:%20evil.test", {}),
        ]
        statuses: Counter[int] = Counter()
        async with aiohttp.ClientSession() as http:
            for path, headers in attempts:
                async with http.post(
                    guard.url("") + path, json={"text": "deploy done"}, headers=headers, allow_redirects=False
                ) as resp:
                    statuses[resp.status] += 1
            # Absolute-form request target, as a proxy would receive it.
            reader, writer = await asyncio.open_connection("127.0.0.1", guard.http_port)
            body = b'{"text": "x"}'
            writer.write(
                b"POST http://"
                + evil_host.encode()
                + b"/hooks/ext HTTP/1.1\r\nHost: "
                + evil_host.encode()
                + b"\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )
            await writer.drain()
            statuses[int((await reader.readline()).split()[1])] += 1
            writer.close()
        # The upstream redirects: the guard does not follow.
        legit.reply_with(_redirect(evil.url("/stolen")))
        async with (
            aiohttp.ClientSession() as http,
            http.post(guard.url("/hooks/ext"), json={"text": "hello"}, allow_redirects=False) as resp,
        ):
            statuses[resp.status] += 1
    assert evil.requests == [], [r.path for r in evil.requests]
    assert all(r.path.startswith("/services/T/B/X") for r in legit.requests), [r.path for r in legit.requests]
    print(
        f"\nATTACK ssrf: {len(attempts) + 2} attempts to move the upstream -> {dict(statuses)}; "
        f"requests at the other host: 0"
    )


def _redirect(location: str) -> Any:
    from guard.testing_webhook import Canned

    return Canned(302, b"", None, (("Location", location),))
