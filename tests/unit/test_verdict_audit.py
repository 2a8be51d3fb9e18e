"""Every verdict is written to the audit chain (batched), without values, and the chain verifies."""

from __future__ import annotations

import contextlib
import smtplib
from collections.abc import Callable
from email.message import EmailMessage

from guard.app import GuardServer, build_services
from guard.config import Settings


async def test_verdicts_are_audited_in_the_chain(make_settings: Callable[..., Settings]) -> None:
    import asyncio

    services = build_services(make_settings())
    server = GuardServer(services)
    await server.start()
    try:

        def send(body: str) -> None:
            m = EmailMessage()
            m["From"], m["To"], m["Subject"] = "agent@example.com", "x@customer.net", "hi"
            m.set_content(body)
            # a block is a 550 (SMTPException): still a verdict
            with (
                smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10) as c,
                contextlib.suppress(smtplib.SMTPException),
            ):
                c.send_message(m)

        for body in ("hello", "card 4111 1111 1111 1111", "key AKIA2E5RYT7QKVN3WX4H"):
            await asyncio.to_thread(send, body)
        assert services.audit is not None
        await services.audit.flush()
        entries = [e for e in await services.store.audit_entries() if e.action == "verdict"]
        assert [e.details["action"] for e in entries] == ["allow", "quarantine", "block"]
        assert entries[1].details["counts"] == {"CREDIT_CARD": 1}
        blob = repr([e.details for e in entries])
        assert "4111" not in blob and "AKIA" not in blob and "customer.net" not in blob
        report = await services.store.audit_verify()
        assert report.ok
    finally:
        await server.stop()
