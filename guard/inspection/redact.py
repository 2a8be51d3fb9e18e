"""Redaction: pure functions that mask found values in a text, a JSON value or a message.

They take what to mask (findings) or how to find it (a `scan` callable) as arguments and hold
no state, so every caller (SMTP dispatch, chat proxy, check API) masks the same way.
"""

from __future__ import annotations

import copy
import email
import email.policy
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from typing import Any

from guard.errors import InspectionError
from guard.inspection.mask import redaction
from guard.model import Finding

Scan = Callable[[str], Sequence[Finding]]
"""Findings in one text (offsets into it)."""
PartHasFindings = Callable[[bytes], bool]
"""Whether a serialised MIME part, inspected on its own, carries any finding."""


def redact_text(text: str, findings: Sequence[Finding]) -> str:
    """`text` with every finding's span replaced by a placeholder naming the type."""
    out = []
    last = 0
    for f in sorted(findings, key=lambda f: f.start):
        if f.start < last or f.end <= f.start:
            continue
        out.append(text[last : f.start])
        out.append(redaction(f.type))
        last = f.end
    out.append(text[last:])
    return "".join(out)


def redact_json(payload: Any, scan: Scan, _depth: int = 0) -> Any:
    """Every string value in a JSON value redacted (keys are kept)."""
    if _depth > 100:
        raise InspectionError("JSON nested too deeply to redact")
    if isinstance(payload, str):
        return redact_text(payload, scan(payload))
    if isinstance(payload, list):
        return [redact_json(v, scan, _depth + 1) for v in payload]
    if isinstance(payload, dict):
        return {k: redact_json(v, scan, _depth + 1) for k, v in payload.items()}
    return payload


def redact_message(raw: bytes, scan: Scan, has_findings: PartHasFindings) -> bytes:
    """The message with every text part and the Subject redacted; attachments that carry
    findings are replaced by a short notice. Headers other than Subject are kept."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    if not isinstance(msg, EmailMessage):  # pragma: no cover - policy.default always gives EmailMessage
        raise InspectionError("cannot redact this message")
    subject = msg.get("Subject")
    if subject:
        red = redact_text(str(subject), scan(str(subject)))
        if red != str(subject):
            del msg["Subject"]
            msg["Subject"] = red
    _redact_part(msg, 0, scan, has_findings)
    return msg.as_bytes(policy=email.policy.SMTP)


def _part_findings(part: EmailMessage, has_findings: PartHasFindings) -> bool:
    return has_findings(copy.copy(part).as_bytes())


def _redact_part(part: EmailMessage, depth: int, scan: Scan, has_findings: PartHasFindings) -> None:
    if depth > 20:
        raise InspectionError("message nested too deeply to redact")
    if part.is_multipart():
        for child in part.iter_parts():
            _redact_part(child, depth + 1, scan, has_findings)  # type: ignore[arg-type]
        return
    ctype = part.get_content_type()
    if ctype == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], EmailMessage):
            _redact_part(inner[0], depth + 1, scan, has_findings)
        return
    if not _part_findings(part, has_findings):
        return
    filename = part.get_filename()
    if part.get_content_maintype() == "text" and not filename:
        try:
            content = part.get_content()
        except Exception:
            payload = part.get_payload(decode=True)
            content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        subtype = part.get_content_subtype()
        part.set_content(redact_text(content, scan(content)), subtype=subtype, charset="utf-8")
        if not _part_findings(part, has_findings):
            return
        # Something is still visible once the markup is rendered (digits split by tags): drop the part.
    notice = (
        f"The {'attachment ' + filename if filename else 'content'} was removed by Outbound Guard "
        "because it contains sensitive data."
    )
    part.set_content(notice, subtype="plain", charset="utf-8")
    if filename:
        part.add_header("Content-Disposition", "attachment", filename=f"{filename}.removed.txt")


__all__ = ["redact_json", "redact_message", "redact_text"]
