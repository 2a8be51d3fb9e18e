"""The quarantine JSON API: bearer tokens, roles, masking, release once, failures."""

from __future__ import annotations

import aiohttp
from quarantine_helpers import CARD, SSN, TOKENS, mail_item


def bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


async def test_tokens_and_roles(make_guard) -> None:
    g = await make_guard()
    item_id = await g.store.put(mail_item())
    async with aiohttp.ClientSession() as s:
        async with s.get(g.base + "/api/v1/quarantine") as r:
            assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
        async with s.get(g.base + "/api/v1/quarantine", headers={"Authorization": "Bearer nope"}) as r:
            assert r.status == 401
        async with s.get(g.base + "/api/v1/quarantine", headers=bearer("agent")) as r:
            assert r.status == 403
        async with s.post(g.base + f"/api/v1/quarantine/{item_id}/release", headers=bearer("viewer")) as r:
            assert r.status == 403
        async with s.get(g.base + "/api/v1/audit/verify", headers=bearer("reviewer")) as r:
            assert r.status == 403
        async with s.get(g.base + "/api/v1/audit/verify", headers=bearer("admin")) as r:
            assert r.status == 200 and (await r.json())["ok"] is True


async def test_listing_and_viewer_detail_hold_no_values(make_guard) -> None:
    g = await make_guard()
    item_id = await g.store.put(mail_item())
    async with aiohttp.ClientSession() as s:
        async with s.get(
            g.base + "/api/v1/quarantine?status=held&type=CREDIT_CARD", headers=bearer("viewer")
        ) as r:
            body = await r.text()
            data = await r.json()
        assert r.status == 200 and data["total"] == 1 and data["items"][0]["id"] == item_id
        assert {"id", "status", "channel", "created", "types"} <= set(data["items"][0])
        assert CARD not in body and SSN not in body
        async with s.get(g.base + f"/api/v1/quarantine/{item_id}", headers=bearer("viewer")) as r:
            body = await r.text()
        assert r.status == 200 and CARD not in body and SSN not in body and "**** **** **** 1111" in body
        async with s.get(g.base + f"/api/v1/quarantine/{item_id}", headers=bearer("reviewer")) as r:
            detail = await r.json()
        assert detail["revealed"] is True and CARD in detail["segments"][1]["text"]
        mark = detail["segments"][1]["marks"][0]
        assert detail["segments"][1]["text"][mark["start"] : mark["end"]] == CARD
        for query in ("status=bogus", "limit=0", "limit=x", "channel=fax"):
            async with s.get(g.base + f"/api/v1/quarantine?{query}", headers=bearer("viewer")) as r:
                assert r.status == 400, query
        async with s.get(g.base + "/api/v1/quarantine/Q-00000000", headers=bearer("viewer")) as r:
            assert r.status == 404


async def test_release_once_then_conflict(make_guard, smtp_sink) -> None:
    g = await make_guard(smtp={"upstream": smtp_sink.url})
    item_id = await g.store.put(mail_item())
    async with aiohttp.ClientSession() as s:
        url = g.base + f"/api/v1/quarantine/{item_id}/release"
        async with s.post(url, json={"reason": "ok by team lead"}, headers=bearer("reviewer")) as r:
            assert r.status == 200 and (await r.json()) == {"id": item_id, "status": "released"}
        async with s.post(url, json={}, headers=bearer("reviewer")) as r:
            assert r.status == 409
    await smtp_sink.wait_for(1)
    assert len(smtp_sink.messages) == 1
    actors = {e.actor for e in await g.store.audit_entries(item_id=item_id) if e.action == "released"}
    assert actors == {"api:reviewer-bot"}


async def test_failed_release_is_502_and_retriable(make_guard, smtp_sink) -> None:
    g = await make_guard(smtp={"upstream": smtp_sink.url})
    item_id = await g.store.put(mail_item())
    smtp_sink.fail_with("554 5.7.0 rejected by upstream", times=1)
    async with aiohttp.ClientSession() as s:
        url = g.base + f"/api/v1/quarantine/{item_id}/release"
        async with s.post(url, headers=bearer("reviewer")) as r:
            body = await r.json()
            assert r.status == 502 and body["status"] == "release_failed" and "554" in body["detail"]
        async with s.get(g.base + "/api/v1/quarantine?status=release_failed", headers=bearer("viewer")) as r:
            assert [i["id"] for i in (await r.json())["items"]] == [item_id]
        async with s.post(url, headers=bearer("reviewer")) as r:
            assert r.status == 200
    assert len(smtp_sink.messages) == 1


async def test_reject_approve_and_notes(make_guard) -> None:
    g = await make_guard()
    item_id = await g.store.put(mail_item())
    async with aiohttp.ClientSession() as s:
        base = g.base + f"/api/v1/quarantine/{item_id}"
        async with s.post(
            base + "/notes", json={"note": "asked the sender"}, headers=bearer("reviewer")
        ) as r:
            assert r.status == 201
        async with s.post(base + "/notes", json={"note": ""}, headers=bearer("reviewer")) as r:
            assert r.status == 400
        async with s.post(base + "/approve", headers=bearer("reviewer")) as r:
            assert r.status == 200 and (await r.json())["approvals"] == ["api:reviewer-bot"]
        for bad in (b"not json", b"[]", b'{"reason": null}', b'{"notify_sender": "yes"}'):
            async with s.post(base + "/reject", data=bad, headers=bearer("reviewer")) as r:
                assert r.status == 400, bad
        async with s.post(base + "/reject", json={"reason": "policy"}, headers=bearer("reviewer")) as r:
            assert r.status == 200 and (await r.json())["status"] == "rejected"
        async with s.post(base + "/release", headers=bearer("admin")) as r:
            assert r.status == 409
