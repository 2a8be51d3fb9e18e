"""`GuardSMTP`: aiosmtpd's SMTP protocol plus what one guard connection needs beyond it."""

from __future__ import annotations

import asyncio
from typing import Any

from aiosmtpd.smtp import SMTP

from guard.metrics import Metrics
from guard.smtp.peers import is_loopback


class GuardSMTP(SMTP):
    """aiosmtpd's protocol plus what one connection needs beyond it.

    - AUTH in clear text is allowed from loopback peers and on implicit-TLS listeners
      (aiosmtpd only knows STARTTLS), otherwise only after STARTTLS.
    - An error budget (`smtp.max_errors`): after that many 4xx/5xx protocol replies the
      connection gets `421 4.7.0` and is closed. Verdict replies (blocks, tempfails after
      DATA) are not protocol errors and do not count.
    - `guard_smtp_connections_total{tls}` is counted when the connection ends, when it is
      known whether it used TLS.
    """

    def __init__(
        self,
        handler: Any,
        *,
        metrics: Metrics,
        implicit_tls: bool,
        max_errors: int,
        clear_auth_on_loopback: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self._metrics = metrics
        self._implicit_tls = implicit_tls
        self._max_errors = max_errors
        self._clear_auth_on_loopback = clear_auth_on_loopback
        self._errors = 0
        self._counted = False
        self.verdict_reply = False  # set by the handler right before it returns a DATA reply

    @property
    def uses_tls(self) -> bool:
        return self._implicit_tls or self._tls_protocol is not None

    def restart_idle_timer(self) -> None:
        self._reset_timeout()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None
        super().connection_made(transport)
        if first:
            peer = transport.get_extra_info("peername")
            host = str(peer[0]) if isinstance(peer, tuple) and peer else ""
            if self._implicit_tls or (self._clear_auth_on_loopback and is_loopback(host)):
                self._auth_require_tls = False

    def connection_lost(self, error: Exception | None) -> None:
        if not self._counted:
            self._counted = True
            self._metrics.smtp_connections.labels("yes" if self.uses_tls else "no").inc()
        super().connection_lost(error)

    async def push(self, status: str | bytes) -> None:
        await super().push(status)  # type: ignore[type-var]  # aiosmtpd types it AnyStr; both are sent
        verdict, self.verdict_reply = self.verdict_reply, False
        text = status.decode("ascii", "replace") if isinstance(status, bytes) else status
        if verdict or text[:1] not in ("4", "5") or text.startswith("421"):
            return
        self._errors += 1
        if self._errors >= self._max_errors and self.transport is not None:
            await super().push("421 4.7.0 Too many errors; closing the connection")
            self.transport.close()
