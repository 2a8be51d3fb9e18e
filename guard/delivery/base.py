"""What every forwarder shares: the envelopes it takes, the receipts it gives, its interface.

A `Forwarder[E, R]` takes one envelope of type E and returns a receipt R only when the next
hop holds the message; otherwise it raises a `DeliveryError` (guard.errors). The composition
root (`guard.services`) builds one forwarder per kind and shares it with the adapters and the
quarantine release; nobody else creates or closes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

from yarl import URL

E_contra = TypeVar("E_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)


class Forwarder(Protocol[E_contra, R_co]):
    async def deliver(self, envelope: E_contra) -> R_co: ...
    async def close(self) -> None: ...
    def describe(self) -> str: ...  # for logs only: never shown to a client


@dataclass(frozen=True, slots=True)
class Mail:
    """One outbound SMTP transaction."""

    sender: str  # "" or "<>" for the null reverse-path (bounces)
    recipients: tuple[str, ...]
    content: bytes
    mail_options: tuple[str, ...] = ()  # from the client: SMTPUTF8, BODY=8BITMIME (SIZE is recomputed)


@dataclass(frozen=True, slots=True)
class Receipt:
    """The next SMTP hop's acceptance."""

    code: int
    message: str  # e.g. "2.0.0 Ok: queued as 4F2A1" or "Delivered to local Maildir as …"


@dataclass(frozen=True, slots=True)
class Post:
    """One outbound webhook request: the body is sent byte for byte."""

    url: URL
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class UpstreamReply:
    """A webhook upstream's reply, handed back to the caller unchanged."""

    status: int
    reason: str
    body: bytes
    headers: tuple[tuple[str, str], ...]  # Content-Type, Content-Encoding, Retry-After, X-RateLimit-*

    @property
    def content_type(self) -> str | None:
        for key, value in self.headers:
            if key.lower() == "content-type":
                return value
        return None

    @property
    def status_class(self) -> str:
        return f"{self.status // 100}xx"


MailForwarder = Forwarder[Mail, Receipt]
WebhookForwarderT = Forwarder[Post, UpstreamReply]
