"""Readiness probes beyond the store and the rules: is the SMTP upstream answering?

`/readyz` awaits every probe in `services.ready_probes`. The SMTP upstream probe
opens a connection, reads the `220` greeting and says QUIT (a clean session in the
upstream's log, not a dropped connect), bounded by PROBE_TIMEOUT_S. The answer is cached for
PROBE_CACHE_S so that orchestrator probes on several instances do not hammer the upstream.

Chat webhook upstreams are not probed: they are many third-party services, and one of them
being down must not take the whole guard (mail, review UI) out of rotation.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import aiosmtplib

from guard.config import Settings

PROBE_TIMEOUT_S = 2.0
PROBE_CACHE_S = 10.0
_DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}

Probe = Callable[[], Awaitable[bool]]


def smtp_upstream_probe(settings: Settings) -> Probe | None:
    """A probe for `smtp.upstream`, or None when mail goes to the local Maildir."""
    url = settings.smtp.upstream
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or _DEFAULT_PORTS[parts.scheme]
    implicit_tls = parts.scheme == "smtps"
    context: ssl.SSLContext | None = None
    if implicit_tls:
        context = ssl.create_default_context()
        if not settings.smtp.upstream_tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    cached: dict[str, float | bool] = {"at": float("-inf"), "ok": False}

    async def probe() -> bool:
        now = time.monotonic()
        if now - float(cached["at"]) < PROBE_CACHE_S:
            return bool(cached["ok"])
        client = aiosmtplib.SMTP(
            hostname=host,
            port=port,
            use_tls=implicit_tls,
            start_tls=False,
            tls_context=context,
            timeout=PROBE_TIMEOUT_S,
        )
        ok = False
        try:
            await client.connect()
            ok = True
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            ok = False
        finally:
            if client.is_connected:
                with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                    await client.quit()
                client.close()
        cached.update(at=time.monotonic(), ok=ok)
        return ok

    return probe


def ready_probes(settings: Settings) -> dict[str, Probe]:
    """The named probes `/readyz` reports as checks besides `store` and `rules`."""
    probes: dict[str, Probe] = {}
    smtp = smtp_upstream_probe(settings) if settings.smtp.enabled else None
    if smtp is not None:
        probes["smtp_upstream"] = smtp
    return probes
