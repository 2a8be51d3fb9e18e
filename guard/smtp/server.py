"""SMTP listeners inside the running event loop (no threaded Controller in production).

`start_smtp(services)` binds `smtp.listen` (plain, STARTTLS when a certificate is configured)
and optionally `smtp.implicit_tls_listen`, each with `loop.create_server(GuardSMTP…)`; with
`services.extras["reuse_port"]` the sockets use SO_REUSEPORT so `guard serve --workers N`
processes share them. Shutdown (the composition root's `on_close`) waits for deliveries
already under way, then closes idle upstream connections.
"""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import SMTP

from guard.config import split_listen
from guard.metrics import Metrics
from guard.smtp.auth import UserDirectory
from guard.smtp.dispatch import Dispatcher
from guard.smtp.forwarder import build_forwarder
from guard.smtp.handler import GuardHandler, is_loopback
from guard.smtp.tls import smtp_tls_context

if TYPE_CHECKING:
    from guard.app import Services

IDENT = "Outbound Guard ESMTP"
SHUTDOWN_DRAIN_S = 30.0


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
        handler: GuardHandler,
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


def _port(server: asyncio.AbstractServer) -> int:
    sockets = getattr(server, "sockets", None) or ()  # asyncio.Server has them; the ABC does not say so
    return int(sockets[0].getsockname()[1]) if sockets else 0


def _listen_args(value: str) -> tuple[str, int]:
    host, port = split_listen(value)
    return host, port


async def start_smtp(services: Services) -> list[asyncio.AbstractServer]:
    """Start the SMTP listeners in the running loop; return the servers (first = `smtp.listen`)."""
    s = services.settings.smtp
    tls_context = smtp_tls_context(s)

    hostname = s.hostname or socket.gethostname() or "localhost"
    users = UserDirectory(s.users)
    forwarder = build_forwarder(services.settings)
    handler = GuardHandler(services, Dispatcher(services, forwarder), users, hostname)
    loop = asyncio.get_running_loop()
    common: dict[str, Any] = {
        "data_size_limit": s.max_message_bytes or None,
        "enable_SMTPUTF8": True,
        "hostname": hostname,
        "ident": IDENT,
        "timeout": s.session_timeout_s,
        "auth_require_tls": s.auth_require_tls,
        "auth_exclude_mechanism": [] if users else ["PLAIN", "LOGIN"],
        "command_call_limit": s.max_commands,
        "loop": loop,
    }

    def factory(implicit: bool) -> Any:
        def make() -> GuardSMTP:
            return GuardSMTP(
                handler,
                metrics=services.metrics,
                implicit_tls=implicit,
                max_errors=s.max_errors,
                clear_auth_on_loopback=True,
                tls_context=None if implicit else tls_context,
                require_starttls=False if implicit else s.require_starttls,
                **common,
            )

        return make

    reuse_port = bool(services.extras.get("reuse_port")) or None
    servers: list[asyncio.AbstractServer] = []
    host, port = _listen_args(s.listen)
    servers.append(await loop.create_server(factory(False), host, port, reuse_port=reuse_port))
    if s.implicit_tls_listen:
        host, port = _listen_args(s.implicit_tls_listen)
        servers.append(
            await loop.create_server(factory(True), host, port, ssl=tls_context, reuse_port=reuse_port)
        )

    async def close() -> None:
        await handler.drain(SHUTDOWN_DRAIN_S)
        await forwarder.close()

    services.extras.setdefault("on_close", []).append(close)
    services.extras["smtp_forwarder"] = forwarder
    services.extras["smtp_handler"] = handler
    services.log.info(
        "smtp listening",
        extra={
            "event": "smtp_listen",
            "ports": [_port(srv) for srv in servers],
            "delivery": forwarder.describe(),
            "tls": tls_context is not None,
            "auth_users": len(s.users),
        },
    )
    return servers
