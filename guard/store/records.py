"""Typed records the store keeps sealed with an item: envelopes, findings, segments.

They cross from the store to the review UI, API, CLI and the release as these types, never
as loose dicts. Each has `as_dict()` (what is sealed as JSON) and `from_dict()` (tolerant of
rows written by older versions: missing keys take defaults, unknown keys are ignored).

    MailEnvelope   how an SMTP item is delivered again (sender, options; recipients on the item)
    ChatEnvelope   how a chat item is POSTed again (route, path tail, query, content type)
    StoredFinding  one finding as kept: offsets, masked preview, keyed hash; never the value
    StoredSegment  one extracted text (sealed with the content: it may hold values)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from guard.model import Finding, Segment


def _str(d: Mapping[str, Any], key: str, default: str = "") -> str:
    value = d.get(key)
    return default if value is None else str(value)


def _strs(d: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = d.get(key) or ()
    return tuple(str(v) for v in value) if isinstance(value, (list, tuple)) else ()


@dataclass(frozen=True, slots=True)
class MailEnvelope:
    mail_from: str
    mail_options: tuple[str, ...] = ()
    rcpt_tos: tuple[str, ...] = ()  # empty: the item's recipients
    queue_id: str = ""
    peer: str = ""
    authenticated: bool = False
    tls: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "mail_from": self.mail_from,
            "mail_options": list(self.mail_options),
            "rcpt_tos": list(self.rcpt_tos),
            "queue_id": self.queue_id,
            "peer": self.peer,
            "authenticated": self.authenticated,
            "tls": self.tls,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MailEnvelope:
        return cls(
            mail_from=_str(d, "mail_from"),
            mail_options=_strs(d, "mail_options"),
            rcpt_tos=_strs(d, "rcpt_tos"),
            queue_id=_str(d, "queue_id"),
            peer=_str(d, "peer"),
            authenticated=bool(d.get("authenticated")),
            tls=bool(d.get("tls")),
        )


@dataclass(frozen=True, slots=True)
class ChatEnvelope:
    route: str
    tail: str = ""  # the caller's path after /hooks/{route}
    query: str = ""  # the caller's query string (the guard's own secret removed)
    content_type: str = "application/json"
    format: str = ""
    dialect: str = ""
    audience: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "tail": self.tail,
            "query": self.query,
            "content_type": self.content_type,
            "format": self.format,
            "dialect": self.dialect,
            "audience": self.audience,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ChatEnvelope:
        return cls(
            route=_str(d, "route"),
            tail=_str(d, "tail"),
            query=_str(d, "query"),
            content_type=_str(d, "content_type", "application/json"),
            format=_str(d, "format"),
            dialect=_str(d, "dialect"),
            audience=_str(d, "audience"),
        )


Envelope = MailEnvelope | ChatEnvelope


def envelope_from_dict(channel: str, d: Mapping[str, Any] | None) -> Envelope:
    """The typed envelope of a sealed item (chat items by channel; everything else is mail)."""
    data = d or {}
    if channel == "chat":
        return ChatEnvelope.from_dict(data)
    return MailEnvelope.from_dict(data)


@dataclass(frozen=True, slots=True)
class StoredFinding:
    """One finding as kept with a quarantine item (`Finding` without its live-only parts)."""

    type: str
    start: int
    end: int
    segment: int = 0
    category: str = ""
    score: float = 0.0
    detector: str = ""
    preview: str = "****"  # masked
    hash: str = ""  # keyed hash of the value, for correlation
    explanation: tuple[str, ...] = ()
    confidence: str = "medium"  # high | medium | low; rows written before it existed read as medium

    @classmethod
    def of(cls, f: Finding) -> StoredFinding:
        return cls.from_dict(f.as_dict())

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "category": self.category,
            "start": self.start,
            "end": self.end,
            "score": self.score,
            "detector": self.detector,
            "preview": self.preview,
            "hash": self.hash,
            "segment": self.segment,
            "explanation": list(self.explanation),
            "confidence": self.confidence,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StoredFinding:
        def num(key: str) -> int:
            try:
                return int(d.get(key) or 0)
            except (TypeError, ValueError):
                return 0

        try:
            score = float(d.get("score") or 0.0)
        except (TypeError, ValueError):
            score = 0.0
        return cls(
            type=_str(d, "type"),
            start=num("start"),
            end=num("end"),
            segment=num("segment"),
            category=_str(d, "category"),
            score=round(score, 3),
            detector=_str(d, "detector"),
            preview=_str(d, "preview") or "****",
            hash=_str(d, "hash"),
            explanation=_strs(d, "explanation"),
            confidence=_str(d, "confidence") or "medium",
        )


@dataclass(frozen=True, slots=True)
class StoredSegment:
    text: str
    source: str = ""
    kind: str = "text"

    @classmethod
    def of(cls, s: Segment) -> StoredSegment:
        return cls(text=s.text, source=s.source, kind=s.kind)

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "kind": self.kind, "text": self.text}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StoredSegment:
        return cls(text=_str(d, "text"), source=_str(d, "source"), kind=_str(d, "kind") or "text")


def found_values(segments: Sequence[StoredSegment], findings: Sequence[StoredFinding]) -> dict[str, str]:
    """Every value the findings point at -> its masked preview (for masking it elsewhere)."""
    out: dict[str, str] = {}
    for f in findings:
        if 0 <= f.segment < len(segments):
            value = segments[f.segment].text[f.start : f.end]
            if value:
                out[value] = f.preview
    return out
