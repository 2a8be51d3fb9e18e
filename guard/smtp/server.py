"""SMTP listeners inside the running event loop (no threaded Controller in production).

`start_smtp(services)` binds `smtp.listen` (plain, STARTTLS when a certificate is configured)
and optionally `smtp.implicit_tls_listen`, each with `loop.create_server(GuardSMTP…)`; with
`services.reuse_port` the sockets use SO_REUSEPORT so `guard serve --workers N` processes
share them. `SmtpListeners.close()` (called by the composition root) stops accepting, then
waits for deliveries already under way; the shared forwarder is closed by `Services`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from guard.config import split_listen
from guard.smtp.auth import UserDirectory
from guard.smtp.handler import GuardHandler
from guard.smtp.session import GuardSMTP
from guard.smtp.tls import smtp_tls_context

if TYPE_CHECKING:
    from guard.services import Services

IDENT = "Outbound Guard ESMTP"
SHUTDOWN_DRAIN_S = 30.0


def _port(server: asyncio.AbstractServer) -> int:
    sockets = getattr(server, "sockets", None) or ()  # asyncio.Server has them; the ABC does not say so
    return int(sockets[0].getsockname()[1]) if sockets else 0


def _listen_args(value: str) -> tuple[str, int]:
    host, port = split_listen(value)
    return host, port


@dataclass
class SmtpListeners:
    """The running SMTP servers (first = `smtp.listen`) and the handler whose deliveries drain."""

    servers: list[asyncio.AbstractServer]
    handler: GuardHandler

    async def close(self) -> None:
        for server in self.servers:
            server.close()
        for server in self.servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 10)
        await self.handler.drain(SHUTDOWN_DRAIN_S)


async def start_smtp(services: Services) -> SmtpListeners:
    """Start the SMTP listeners in the running loop; return the servers (first = `smtp.listen`)."""
    s = services.settings.smtp
    tls_context = smtp_tls_context(s)

    hostname = s.hostname or socket.gethostname() or "localhost"
    users = UserDirectory(s.users)
    forwarder = services.mail_forwarder
    handler = GuardHandler(services, users, hostname)
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

    reuse_port = services.reuse_port or None
    servers: list[asyncio.AbstractServer] = []
    host, port = _listen_args(s.listen)
    servers.append(await loop.create_server(factory(False), host, port, reuse_port=reuse_port))
    if s.implicit_tls_listen:
        host, port = _listen_args(s.implicit_tls_listen)
        servers.append(
            await loop.create_server(factory(True), host, port, ssl=tls_context, reuse_port=reuse_port)
        )

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
    return SmtpListeners(servers, handler)
