"""Verdict entries written in one batch extend the same hash chain as single entries, on both backends."""

from __future__ import annotations

import itertools
from typing import Any


async def test_audit_many_extends_the_chain(store: Any) -> None:
    await store.audit("alice", "note", None, {"n": 0})
    batch = [("verdict", None, {"channel": "smtp", "action": "allow", "n": i}) for i in range(1, 251)]
    await store.audit_many("guard", batch)
    await store.audit("alice", "note", None, {"n": 251})
    entries = await store.audit_entries()
    mine = [e for e in entries if e.action in ("note", "verdict")]
    assert [e.details["n"] for e in mine] == list(range(252))
    seqs = [e.seq for e in entries]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for earlier, later in itertools.pairwise(entries):
        assert later.prev_hash == earlier.hash
    report = await store.audit_verify()
    assert report.ok
