"""The store contract: one suite, run against SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from quarantine_helpers import CARD, chat_item, mail_item

from guard.errors import Conflict, NotFound
from guard.store.base import Status
from guard.store.sql import valid_id


async def test_put_then_get_round_trips_content_and_findings(store) -> None:
    new = mail_item()
    item_id = await store.put(new)
    assert valid_id(item_id)
    item = await store.get(item_id)
    assert item.content == new.content
    assert item.findings == new.findings
    assert item.segments == new.segments
    assert item.envelope == new.envelope
    assert item.subject == new.subject
    s = item.summary
    assert (s.status, s.channel, s.sender, s.recipients) == (Status.HELD, "smtp", new.sender, new.recipients)
    assert s.types == {"CREDIT_CARD": 1, "US_SSN": 1}
    assert s.severity == "high" and s.size == len(new.content)
    # The listed subject is masked: the card found in the subject segment is starred.
    assert CARD not in s.subject and s.subject.startswith("Refund for card ****")


async def test_lowercase_ids_are_accepted_and_unknown_ids_not_found(store) -> None:
    item_id = await store.put(mail_item())
    assert (await store.summary(item_id.lower())).id == item_id
    with pytest.raises(NotFound):
        await store.get("Q-00000000")


async def test_list_filters_pages_and_counts(store) -> None:
    ids = [await store.put(mail_item(marker=str(i))) for i in range(3)]
    chat_id = await store.put(chat_item())
    listed = await store.list()
    assert listed[0].id == chat_id  # newest first
    assert {s.id for s in listed} == {*ids, chat_id}
    assert [s.id for s in await store.list(channel="chat")] == [chat_id]
    assert len(await store.list(type="US_SSN")) == 3
    assert len(await store.list(type="us_ssn")) == 3
    assert await store.list(type="IBAN") == []
    page1 = await store.list(limit=2)
    page2 = await store.list(limit=2, offset=2)
    assert len(page1) == 2 and len(page2) == 2 and not {s.id for s in page1} & {s.id for s in page2}
    await store.reject(ids[0], "rev", "not allowed")
    counts = await store.counts()
    assert counts["held"] == 3 and counts["rejected"] == 1 and counts["released"] == 0
    assert await store.count(status="held") == 3
    assert await store.type_counts(status="held") == {"CREDIT_CARD": 3, "US_SSN": 2}
    assert await store.oldest("held") is not None
    assert await store.oldest_held_age_s() >= 0


async def test_release_claim_finish_and_retry(store) -> None:
    item_id = await store.put(mail_item())
    item = await store.claim_release(item_id, "alice", reason="customer asked")
    assert item.summary.status == Status.RELEASING and item.summary.attempts == 1
    with pytest.raises(Conflict):
        await store.claim_release(item_id, "bob")
    with pytest.raises(Conflict):
        await store.reject(item_id, "bob", "too late")
    await store.finish_release(item_id, "alice", ok=False, error="TemporaryDeliveryError 451")
    failed = await store.summary(item_id)
    assert failed.status == Status.RELEASE_FAILED and failed.last_error == "TemporaryDeliveryError 451"
    await store.claim_release(item_id, "bob")  # retriable
    await store.finish_release(item_id, "bob", ok=True)
    done = await store.summary(item_id)
    assert (done.status, done.decided_by, done.attempts, done.last_error) == (Status.RELEASED, "bob", 2, "")
    with pytest.raises(Conflict):
        await store.claim_release(item_id, "carol")
    with pytest.raises(Conflict):
        await store.finish_release(item_id, "carol", ok=True)
    actions = [e.action for e in await store.audit_entries(item_id=item_id)]
    assert actions == ["quarantine", "release_claimed", "release_failed", "release_claimed", "released"]


async def test_concurrent_claims_in_one_process_have_one_winner(store) -> None:
    ids = [await store.put(mail_item(marker=str(i))) for i in range(20)]
    for item_id in ids:
        results = await asyncio.gather(
            store.claim_release(item_id, "a"), store.claim_release(item_id, "b"), return_exceptions=True
        )
        assert sum(not isinstance(r, BaseException) for r in results) == 1
        assert sum(isinstance(r, Conflict) for r in results) == 1


async def test_reject_note_and_approve(store) -> None:
    item_id = await store.put(mail_item())
    await store.add_note(item_id, "alice", f"called the customer about {CARD}")
    s = await store.approve(item_id, "alice")
    assert s.approvals == ("alice",)
    with pytest.raises(Conflict):
        await store.approve(item_id, "alice")
    await store.reject(item_id, "bob", "policy says no")
    item = await store.get(item_id)
    assert item.summary.status == Status.REJECTED and item.summary.decided_by == "bob"
    assert [n["note"] for n in item.notes] == [f"called the customer about {CARD}"]
    with pytest.raises(Conflict):
        await store.approve(item_id, "carol")
    details = {e.action: e.details for e in await store.audit_entries(item_id=item_id)}
    assert details["rejected"] == {"reason": "policy says no"}
    assert details["note"] == {"chars": len(f"called the customer about {CARD}")}


async def test_purge_expires_held_and_erases_decided_content(store) -> None:
    held = await store.put(mail_item(marker="a"))
    decided = await store.put(mail_item(marker="b"))
    await store.reject(decided, "bob", "no")
    await store.add_note(decided, "bob", "note")
    assert await store.purge_expired(1, "retention") == 0  # nothing old enough
    assert await store.purge_expired(-1, "retention") == 2  # cut-off in the future: everything is "old"
    expired = await store.get(held)
    assert expired.summary.status == Status.EXPIRED and expired.summary.purged and expired.content == b""
    erased = await store.get(decided)
    assert erased.summary.status == Status.REJECTED and erased.content == b"" and erased.notes == []
    with pytest.raises(Conflict):
        await store.claim_release(held, "alice")
    purge = [e for e in await store.audit_entries() if e.action == "purge"]
    assert purge[0].details["expired"] == [held] and purge[0].details["erased"] == [decided]
    assert (await store.audit_verify()).ok


async def test_audit_chain_verifies_and_latest_entries(store) -> None:
    for i in range(5):
        await store.audit("guard", "verdict", None, {"action": "allow", "n": i})
    report = await store.audit_verify()
    assert report.ok and report.entries == 5 and report.head_seq == 5
    latest = await store.audit_entries(limit=2)
    assert [e.details["n"] for e in latest] == [3, 4]
    assert latest[1].prev_hash == latest[0].hash


async def test_migrations_are_idempotent_on_reopen(store, store_settings) -> None:
    item_id = await store.put(mail_item())
    again = type(store)(store.settings)
    await again.open()
    try:
        assert (await again.summary(item_id)).id == item_id
        assert await again.ping()
    finally:
        await again.close()
