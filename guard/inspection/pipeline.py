"""The inspection pipeline, composed in one place: extract -> normalise -> detect -> classify -> decide."""

from __future__ import annotations

import copy
import email
import email.policy
import os
import re
import secrets
import time
from bisect import bisect_right
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from guard.config import Settings
from guard.errors import InspectionError
from guard.inspection.audience import AudienceClassifier
from guard.inspection.detect import Candidate, DetectionEngine
from guard.inspection.extract import Extractor, Limits, decoded_segments
from guard.inspection.mask import preview, redaction, value_hash
from guard.inspection.normalise import ascii_variant, normalise
from guard.inspection.person import person_candidates
from guard.inspection.policy import Policy
from guard.inspection.rules import load_detectors, shipped_rules_dir
from guard.model import (
    Action,
    Audience,
    Channel,
    Decision,
    Finding,
    OutboundMessage,
    RecipientClass,
    Segment,
    Verdict,
)

CUSTOM_ENGINES = {"person_names": person_candidates}
_NON_ALNUM = re.compile(r"[\W_]+")


def _hash_key(settings: Settings, persist: bool = True) -> bytes:
    """The key for finding hashes: from config, else generated once under data_dir
    (`persist=False`, for offline scans: an existing key file or a key for this run only)."""
    if settings.rules.hash_key:
        return settings.rules.hash_key.encode()
    path = settings.data_path / "hash.key"
    if path.exists():
        return path.read_bytes().strip()
    if not persist:
        return secrets.token_hex(32).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def _compact(entity_type: str, value: str) -> str:
    """The value as hashed: separators dropped; case kept only where it matters (secrets)."""
    if entity_type == "API_KEY":
        return "".join(value.split())
    return _NON_ALNUM.sub("", value).upper()


_JOIN_WINDOW = 120  # characters read across the joint of two neighbouring parts
_VARIANT_WINDOW = 300  # characters of context kept around a spelled-out or look-alike number
_WARM_UP = (
    "Dear Jane Doe,\ncard 4111 1111 1111 1111, DOB: 01.02.1980, IBAN DE89 3704 0044 0532 0130 00\nThanks,\nJo"
)


class Inspector:
    """Compiled rules and policy; `inspect()` is pure, synchronous and safe to call from threads."""

    def __init__(
        self,
        engine: DetectionEngine,
        policy: Policy,
        audience: AudienceClassifier,
        hash_key: bytes,
        limits: Limits | None = None,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.audience = audience
        self.hash_key = hash_key
        self.extractor = Extractor(limits)

    @classmethod
    def from_settings(cls, settings: Settings, *, persist_key: bool = True) -> Inspector:
        shipped = shipped_rules_dir()
        paths = [Path(p) for p in settings.rules.paths] or [shipped]
        local = Path(settings.rules.local_dir) if settings.rules.local_dir else None
        detectors = load_detectors(paths, local)
        policy_path = Path(settings.rules.policy) if settings.rules.policy else shipped / "policy.yaml"
        policy = Policy.load(policy_path)
        limits = Limits(max_chars=settings.rules.max_scan_chars)
        inspector = cls(
            DetectionEngine(detectors, CUSTOM_ENGINES),
            policy,
            AudienceClassifier(settings.org.internal_domains),
            _hash_key(settings, persist_key),
            limits,
        )
        inspector.scan_text(_WARM_UP)  # load name lists and regex caches now, not on the first message
        return inspector

    @property
    def rule_count(self) -> int:
        return len(self.engine)

    @property
    def policy_rows(self) -> int:
        return len(self.policy.rows)

    # -- detection -------------------------------------------------------------------------------
    def _candidates(self, text: str) -> list[tuple[int, int, Candidate]]:
        norm = normalise(text)
        out = []
        for c in self.engine.find(norm.text):
            s, e = norm.span_to_original(c.start, c.end)
            out.append((s, e, c))
        variant = ascii_variant(norm)
        if variant is not None:
            out.extend(self._variant_candidates(variant, out))
            out.sort(key=lambda t: t[0])
        return out

    def _variant_candidates(
        self, variant: Any, seen: list[tuple[int, int, Candidate]]
    ) -> list[tuple[int, int, Candidate]]:
        """Detect in the second reading, only around what it changed, keeping new spans only."""
        windows: list[list[int]] = []
        for ns, ne in variant.changed_spans():
            lo, hi = max(0, ns - _VARIANT_WINDOW), min(len(variant.text), ne + _VARIANT_WINDOW)
            if windows and lo <= windows[-1][1]:
                windows[-1][1] = max(windows[-1][1], hi)
            else:
                windows.append([lo, hi])
        taken = sorted((s, e) for s, e, _ in seen)
        starts = [s for s, _ in taken]
        new: list[tuple[int, int, Candidate]] = []
        for lo, hi in windows:
            for c in self.engine.find(variant.text[lo:hi]):
                s, e = variant.span_to_original(c.start + lo, c.end + lo)
                i = bisect_right(starts, s)
                if (i > 0 and taken[i - 1][1] > s) or (i < len(taken) and taken[i][0] < e):
                    continue
                new.append((s, e, c))
        return new

    def _finding(self, text: str, s: int, e: int, c: Candidate, segment: int) -> Finding:
        det = c.detector
        return Finding(
            type=det.type,
            category=det.category,
            start=s,
            end=e,
            score=c.score,
            detector=det.id,
            preview=preview(det.type, c.value if det.type != "API_KEY" else text[s:e]),
            value_hash=value_hash(self.hash_key, det.type, _compact(det.type, c.value)),
            segment=segment,
            explanation=tuple(c.explanation),
        )

    def scan_text(self, text: str, segment: int = 0) -> list[Finding]:
        """Findings in one text, offsets into `text` as given."""
        return [self._finding(text, s, e, c, segment) for s, e, c in self._candidates(text)]

    # -- the pipeline -------------------------------------------------------------------------------
    def inspect(self, message: OutboundMessage) -> Verdict:
        started = time.perf_counter()
        try:
            extraction = self.extractor.extract(message)
            findings: list[Finding] = []
            segments = list(extraction.segments)
            segments.extend(decoded_segments(segments))  # text the sender base64-encoded
            for i, seg in enumerate(segments):
                findings.extend(self.scan_text(seg.text, i))
            self._scan_part_joins(segments, findings)
            for source, reason in extraction.unscannable:
                segments.append(Segment(text="", source=source, kind="unscannable"))
                findings.append(
                    Finding(
                        type="UNSCANNABLE",
                        category="other",
                        start=0,
                        end=0,
                        score=1.0,
                        detector="EXTRACTOR",
                        preview=reason,
                        value_hash="",
                        segment=len(segments) - 1,
                        explanation=(reason,),
                    )
                )
            recipients = tuple(self.audience.classify(r) for r in message.recipients)
            return self._verdict(message, findings, segments, recipients, time.perf_counter() - started)
        except InspectionError:
            raise
        except Exception as exc:  # fail closed: the adapter turns this into a temporary refusal
            raise InspectionError(f"inspection failed: {type(exc).__name__}") from exc

    def _scan_part_joins(self, segments: list[Segment], findings: list[Finding]) -> None:
        """A number split across two neighbouring text parts ("card 4111 1111" | "1111 1111") is
        found in the joint: the end of one part read together with the start of the next."""
        text_kinds = ("text", "html")
        count = len(segments)
        for i in range(count - 1):
            a, b = segments[i], segments[i + 1]
            if a.kind not in text_kinds or b.kind not in text_kinds:
                continue
            left, right = a.text[-_JOIN_WINDOW:], b.text[:_JOIN_WINDOW]
            joined = left + "\n" + right
            crossing = [f for f in self.scan_text(joined, len(segments)) if f.start < len(left) < f.end]
            if crossing:
                segments.append(
                    Segment(text=joined, source=f"{a.source} + {b.source} (joined)", kind="joined")
                )
                findings.extend(crossing)

    def _verdict(
        self,
        message: OutboundMessage,
        findings: list[Finding],
        segments: list[Segment],
        recipients: tuple[RecipientClass, ...],
        duration: float,
    ) -> Verdict:
        if message.audience is not None:
            audience = message.audience
        elif recipients:
            audience = (
                Audience.EXTERNAL
                if any(r.audience is Audience.EXTERNAL for r in recipients)
                else Audience.INTERNAL
            )
        else:
            audience = Audience.EXTERNAL  # unknown destination: assume the worst
        lookalike = any(r.lookalike_of for r in recipients)
        decisions: dict[Audience, Decision] = {
            a: self.policy.decide(findings, a, lookalike=lookalike and a is Audience.EXTERNAL)
            for a in Audience
        }
        return Verdict(
            action=decisions[audience].action,
            audience=audience,
            decisions=decisions,
            findings=tuple(findings),
            segments=tuple(segments),
            recipients=recipients,
            duration_s=duration,
        )

    def decide(self, findings: Sequence[Finding], audience: Audience) -> Decision:
        return self.policy.decide(list(findings), audience)

    # -- redaction ----------------------------------------------------------------------------------
    def redact_text(self, text: str, findings: Sequence[Finding] | None = None) -> str:
        """`text` with every finding's span replaced by a placeholder naming the type."""
        if findings is None:
            findings = self.scan_text(text)
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

    def redact_json(self, payload: Any, _depth: int = 0) -> Any:
        """Every string value in a JSON value redacted (keys are kept)."""
        if _depth > 100:
            raise InspectionError("JSON nested too deeply to redact")
        if isinstance(payload, str):
            return self.redact_text(payload)
        if isinstance(payload, list):
            return [self.redact_json(v, _depth + 1) for v in payload]
        if isinstance(payload, dict):
            return {k: self.redact_json(v, _depth + 1) for k, v in payload.items()}
        return payload

    def redact_message(self, raw: bytes) -> bytes:
        """The message with every text part and the Subject redacted; attachments that carry
        findings are replaced by a short notice. Headers other than Subject are kept."""
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        if not isinstance(msg, EmailMessage):  # pragma: no cover - policy.default always gives EmailMessage
            raise InspectionError("cannot redact this message")
        subject = msg.get("Subject")
        if subject:
            red = self.redact_text(str(subject))
            if red != str(subject):
                del msg["Subject"]
                msg["Subject"] = red
        self._redact_part(msg, 0)
        return msg.as_bytes(policy=email.policy.SMTP)

    def _redact_part(self, part: EmailMessage, depth: int) -> None:
        if depth > 20:
            raise InspectionError("message nested too deeply to redact")
        if part.is_multipart():
            for child in part.iter_parts():
                self._redact_part(child, depth + 1)  # type: ignore[arg-type]
            return
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], EmailMessage):
                self._redact_part(inner[0], depth + 1)
            return
        if not self._part_findings(part):
            return
        filename = part.get_filename()
        if part.get_content_maintype() == "text" and not filename:
            try:
                content = part.get_content()
            except Exception:
                payload = part.get_payload(decode=True)
                content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
            subtype = part.get_content_subtype()
            part.set_content(self.redact_text(content), subtype=subtype, charset="utf-8")
            if not self._part_findings(part):
                return
            # Something is still visible once the markup is rendered (digits split by tags): drop the part.
        notice = (
            f"The {'attachment ' + filename if filename else 'content'} was removed by Outbound Guard "
            "because it contains sensitive data."
        )
        part.set_content(notice, subtype="plain", charset="utf-8")
        if filename:
            part.add_header("Content-Disposition", "attachment", filename=f"{filename}.removed.txt")

    def _part_findings(self, part: EmailMessage) -> bool:
        single = OutboundMessage(channel=Channel.API, raw=copy.copy(part).as_bytes())
        return bool(self.inspect(single).findings)


__all__ = ["Action", "Inspector"]
