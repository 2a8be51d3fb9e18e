"""The draft an agent asks about: validated, then turned into an `OutboundMessage`.

Two shapes, told apart by `channel` (or by the presence of `route`):
  * email: `from`, `to`, `subject`, and `text` or `eml` (a raw RFC 5322 message);
  * chat:  `route` (a configured chat route name) and `payload` (what it would POST there).
Validation errors name the field and the rule, never the value given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from guard.chat.dialects import dialect_for
from guard.config import ChatRoute, Settings
from guard.errors import DraftError
from guard.model import Audience, Channel, OutboundMessage

_ALIASES = {"sender": "from"}
_EMAIL_ONLY = frozenset({"to", "subject", "text", "eml", "audience"})


class CheckRequest(BaseModel):
    """The request body of POST /api/v1/check (mirrored in guard/openapi.yaml)."""

    model_config = ConfigDict(extra="forbid")

    channel: Literal["email", "chat"] | None = None
    sender: str = Field("", alias="from", max_length=998)
    to: list[str] | str = Field(default_factory=list)
    subject: str = Field("", max_length=998)
    text: str | None = None
    eml: str | None = None
    route: str | None = Field(None, min_length=1, max_length=200)
    payload: Any = None
    audience: Literal["internal", "external"] | None = None

    @model_validator(mode="after")
    def _shape(self) -> CheckRequest:
        given = self.model_fields_set
        nulls = sorted(_ALIASES.get(f, f) for f in given if getattr(self, f) is None)
        if nulls:
            raise ValueError(f"leave out rather than send null: {', '.join(nulls)}")
        chat = self.channel == "chat" or (self.channel is None and "route" in given)
        if chat:
            if self.route is None or "payload" not in given:
                raise ValueError("a chat draft needs `route` and `payload`")
            extra = sorted(_ALIASES.get(f, f) for f in given & _EMAIL_ONLY)
            if extra:
                raise ValueError(f"not part of a chat draft (its text is in `payload`): {', '.join(extra)}")
            return self
        if given & {"route", "payload"}:
            raise ValueError('`route` and `payload` belong to chat drafts (channel "chat")')
        if (self.text is None) == (self.eml is None):
            raise ValueError("an email draft needs exactly one of `text` or `eml`")
        return self

    @property
    def is_chat(self) -> bool:
        return self.route is not None

    @property
    def recipients(self) -> tuple[str, ...]:
        items = [self.to] if isinstance(self.to, str) else self.to
        return tuple(a.strip() for a in items if a.strip())


@dataclass(frozen=True, slots=True)
class Draft:
    """A validated request and the message to inspect."""

    request: CheckRequest
    message: OutboundMessage
    route: ChatRoute | None = None
    dialect: str = ""


def _explain(err: ValidationError) -> str:
    parts = []
    for e in err.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in e["loc"])
        msg = str(e["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def parse_draft(data: Any, settings: Settings) -> Draft:
    """Validate a decoded JSON body and build the OutboundMessage (channel `api`)."""
    if not isinstance(data, dict):
        raise DraftError("request body must be a JSON object")
    try:
        req = CheckRequest.model_validate(data)
    except ValidationError as exc:
        raise DraftError(_explain(exc)) from None
    if req.is_chat:
        route = next((r for r in settings.chat.routes if r.name == req.route), None)
        if route is None:
            raise DraftError(
                "route: no chat route with this name is configured", error="unknown_route", status=404
            )
        dialect = dialect_for(route.format, route.upstream, req.payload)
        message = OutboundMessage(
            channel=Channel.API,
            text="\n".join(dialect.texts(req.payload)),
            route=route.name,
            audience=Audience(route.audience),
            sender=req.sender,
            meta={"format": dialect.name, "draft": "chat"},
        )
        return Draft(req, message, route, dialect.name)
    recipients = req.recipients
    audience = Audience(req.audience) if req.audience else (None if recipients else Audience.EXTERNAL)
    message = OutboundMessage(
        channel=Channel.API,
        sender=req.sender,
        recipients=recipients,
        subject=req.subject,
        raw=req.eml.encode("utf-8") if req.eml is not None else None,
        text=req.text,
        audience=audience,
        meta={"draft": "email"},
    )
    return Draft(req, message)
