"""Turning a decrypted item into what a reviewer sees: text pieces with findings marked,
mail headers and attachments. Shared by the web UI, the API and the CLI.

`reveal=False` (viewers, listings) replaces every found span with its masked preview, so the
values never reach the page; `reveal=True` (reviewers) keeps them and marks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from guard.inspection.mask import mask_known
from guard.store.base import Item
from guard.store.records import StoredFinding, found_values

MAX_SEGMENT_CHARS = 200_000
SHOWN_HEADERS = ("From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID")


@dataclass(frozen=True, slots=True)
class Piece:
    text: str
    finding: StoredFinding | None = None


@dataclass(slots=True)
class SegmentView:
    index: int
    source: str
    kind: str
    pieces: list[Piece] = field(default_factory=list)
    truncated: bool = False
    findings: int = 0

    def plain(self, mark: tuple[str, str] = ("[[", "]]")) -> str:
        return "".join(f"{mark[0]}{p.text}{mark[1]}" if p.finding else p.text for p in self.pieces)


def _spans(findings: list[StoredFinding], index: int, length: int) -> list[StoredFinding]:
    """Findings of one segment, in order, inside the text, without overlaps (first wins)."""
    out: list[StoredFinding] = []
    last_end = -1
    for f in sorted((f for f in findings if f.segment == index), key=lambda f: (f.start, -f.end)):
        if 0 <= f.start < f.end <= length and f.start >= last_end:
            out.append(f)
            last_end = f.end
    return out


def segment_views(item: Item, *, reveal: bool) -> list[SegmentView]:
    views = []
    values = {} if reveal else found_values(item.segments, item.findings)
    for index, seg in enumerate(item.segments):
        text = seg.text
        view = SegmentView(index=index, source=seg.source, kind=seg.kind)
        pos = 0
        for f in _spans(item.findings, index, len(text)):
            start, end = f.start, f.end
            if start > pos:
                view.pieces.append(Piece(text[pos:start] if reveal else mask_known(text[pos:start], values)))
            view.pieces.append(Piece(text[start:end] if reveal else f.preview, f))
            view.findings += 1
            pos = end
        view.pieces.append(Piece(text[pos:] if reveal else mask_known(text[pos:], values)))
        total = 0
        kept = []
        for p in view.pieces:  # cap very long texts for the page, keeping every marked piece
            if total > MAX_SEGMENT_CHARS and p.finding is None:
                view.truncated = True
                continue
            kept.append(p)
            total += len(p.text)
        view.pieces = kept
        views.append(view)
    return views


def finding_rows(item: Item) -> list[dict[str, Any]]:
    """Findings with where they were found (segment source), never the value."""
    rows = []
    for f in item.findings:
        seg = item.segments[f.segment] if 0 <= f.segment < len(item.segments) else None
        rows.append(
            {
                "type": f.type,
                "where": seg.source if seg else "",
                "kind": seg.kind if seg else "",
                "start": f.start,
                "end": f.end,
                "preview": f.preview,
                "score": f.score,
                "confidence": f.confidence,  # rows written before it existed read as "medium"
                "detector": f.detector,
                "explanation": list(f.explanation),
            }
        )
    return rows


def _parse(content: bytes) -> EmailMessage | None:
    try:
        msg = message_from_bytes(content, policy=policy.default)
    except Exception:
        return None
    return msg if isinstance(msg, EmailMessage) else None


def mail_headers(item: Item, *, reveal: bool) -> list[tuple[str, str]]:
    """The headers a reviewer needs; the subject is the masked one unless revealing."""
    if item.summary.channel != "smtp" or not item.content:
        return []
    msg = _parse(item.content)
    if msg is None:
        return []
    out = []
    for name in SHOWN_HEADERS:
        if name == "Subject":
            if msg.get("Subject") is not None:
                out.append((name, item.subject if reveal else item.summary.subject))
            continue
        for value in msg.get_all(name) or []:
            try:
                out.append((name, str(value)))
            except Exception:
                out.append((name, "(unreadable)"))
    return out


def attachments(item: Item) -> list[dict[str, Any]]:
    """Attachment names, types and sizes (names can be sensitive too: revealed only by role in the UI)."""
    if item.summary.channel != "smtp" or not item.content:
        return []
    msg = _parse(item.content)
    if msg is None:
        return []
    out = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        if filename is None and part.get_content_disposition() != "attachment":
            continue
        payload = part.get_payload(decode=True) or b""
        out.append(
            {
                "filename": filename or "(unnamed)",
                "content_type": part.get_content_type(),
                "size": len(payload) if isinstance(payload, bytes) else 0,
            }
        )
    return out


def item_dict(item: Item, *, reveal: bool) -> dict[str, Any]:
    """The API's and CLI's JSON view of one item."""
    views = segment_views(item, reveal=reveal)
    return {
        **item.summary.as_dict(),
        "subject": item.subject if reveal else item.summary.subject,
        "revealed": reveal,
        "rows": item.rows,
        "headers": [{"name": n, "value": v} for n, v in mail_headers(item, reveal=reveal)],
        "attachments": attachments(item),
        "findings": finding_rows(item),
        "segments": [
            {
                "index": v.index,
                "source": v.source,
                "kind": v.kind,
                "text": v.plain(("", "")),
                "truncated": v.truncated,
                "marks": _marks(v),
            }
            for v in views
        ],
        "notes": [
            {"at": n["at"].isoformat(), "actor": n["actor"], "note": n["note"] if reveal else None}
            for n in item.notes
        ],
        "envelope": _envelope(item) if reveal else None,
    }


def _marks(view: SegmentView) -> list[dict[str, Any]]:
    """Offsets of the marked pieces in the text as shown (masked or not)."""
    pos, out = 0, []
    for p in view.pieces:
        if p.finding is not None:
            out.append({"start": pos, "end": pos + len(p.text), "type": p.finding.type})
        pos += len(p.text)
    return out


def _envelope(item: Item) -> dict[str, Any]:
    return item.envelope.as_dict()
