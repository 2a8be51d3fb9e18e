"""The inspection pipeline, composed in one place: extract -> normalise -> detect -> classify -> decide."""

from __future__ import annotations

import dataclasses
import itertools
import re
import time
from bisect import bisect_left
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from guard.config import Settings
from guard.errors import InspectionError
from guard.inspection import redact
from guard.inspection.audience import AudienceClassifier, without_correspondents
from guard.inspection.detect import Candidate, DetectionEngine, confidence_for
from guard.inspection.extract import Extractor, Limits, decoded_segments
from guard.inspection.loader import load_components
from guard.inspection.mask import preview, value_hash
from guard.inspection.normalise import ascii_variant, normalise
from guard.inspection.policy import Policy
from guard.inspection.severity import Severity, severity, severity_levels
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

_NON_ALNUM = re.compile(r"[\W_]+")


def _compact(entity_type: str, value: str) -> str:
    """The value as hashed: separators dropped; case kept only where it matters (secrets)."""
    if entity_type == "API_KEY":
        return "".join(value.split())
    return _NON_ALNUM.sub("", value).upper()


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
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
        self.severities = severity_levels(policy.severity, (cd.det for cd in engine.detectors))

    def severity(self, types: Iterable[str]) -> Severity:
        """The level of a held item with findings of `types` (see guard.inspection.severity)."""
        return severity(types, self.severities)

    @classmethod
    def from_settings(cls, settings: Settings, *, persist_key: bool = True) -> Inspector:
        c = load_components(settings, persist_key=persist_key)
        inspector = cls(c.engine, c.policy, c.audience, c.hash_key, c.limits)
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
        if _LONE_SURROGATE.search(text):
            # Undecodable bytes kept as lone surrogates (surrogateescape) cannot be handed to RE2,
            # which matches UTF-8; one replacement character each keeps every offset.
            text = _LONE_SURROGATE.sub("\ufffd", text)
        norm = normalise(text)
        out = []
        for c in self.engine.find(norm.text):
            s, e = norm.span_to_original(c.start, c.end)
            out.append((s, e, c))
        variant = ascii_variant(norm)
        if variant is not None:
            out = self._with_variant_candidates(variant, out)
            out.sort(key=lambda t: t[0])
        return out

    def _with_variant_candidates(
        self, variant: Any, seen: list[tuple[int, int, Candidate]]
    ) -> list[tuple[int, int, Candidate]]:
        """Detect in the second reading, only around what it changed. A new span is added; one
        that overlaps first-reading candidates replaces them if it covers them all and is longer
        (the tail of a disguised card number read as a phone number must not hide the card),
        and is dropped otherwise."""
        windows: list[list[int]] = []
        vt = variant.text
        for ns, ne in variant.changed_spans():
            lo, hi = max(0, ns - _VARIANT_WINDOW), min(len(vt), ne + _VARIANT_WINDOW)
            # Whole lines where they are short enough: a window cut next to a value would make it
            # look alone on its line (guard.inspection.lone).
            nl = vt.rfind("\n", max(0, lo - _VARIANT_WINDOW), lo)
            lo = nl + 1 if nl >= 0 else lo
            nl = vt.find("\n", hi, hi + _VARIANT_WINDOW)
            hi = nl if nl >= 0 else hi
            if windows and lo <= windows[-1][1]:
                windows[-1][1] = max(windows[-1][1], hi)
            else:
                windows.append([lo, hi])
        taken = sorted(seen, key=lambda t: t[0])
        starts = [t[0] for t in taken]
        longest = max((e - s for s, e, _ in taken), default=0)
        dropped: set[int] = set()
        new: list[tuple[int, int, Candidate]] = []
        for lo, hi in windows:
            for c in self.engine.find(variant.text[lo:hi]):
                s, e = variant.span_to_original(c.start + lo, c.end + lo)
                first, last = bisect_left(starts, s - longest), bisect_left(starts, e)
                hits = [i for i in range(first, last) if taken[i][1] > s and i not in dropped]
                if hits and not all(s <= taken[i][0] and taken[i][1] <= e for i in hits):
                    continue  # crosses a first-reading span: that reading wins
                if any((taken[i][0], taken[i][1]) == (s, e) for i in hits):
                    continue  # the same span: already found
                dropped.update(hits)
                new.append((s, e, c))
        return [t for i, t in enumerate(taken) if i not in dropped] + new

    def _finding(self, text: str, s: int, e: int, c: Candidate, segment: int) -> Finding:
        det = c.detector
        confidence = c.confidence or confidence_for(c.score)
        explanation = tuple(c.explanation)
        if not c.confidence:
            explanation += (f"confidence {confidence}: from the score",)
        return Finding(
            type=det.type,
            category=det.category,
            start=s,
            end=e,
            score=c.score,
            detector=det.id,
            preview=preview(det.type, c.value if det.type != "API_KEY" else text[s:e], det.mask),
            value_hash=value_hash(self.hash_key, det.type, _compact(det.type, c.value)),
            segment=segment,
            explanation=explanation,
            confidence=confidence,
        )

    def scan_text(self, text: str, segment: int = 0) -> list[Finding]:
        """Findings in one text, offsets into `text` as given."""
        return [self._finding(text, s, e, c, segment) for s, e, c in self._candidates(text)]

    def _scan_segment(self, seg: Segment, index: int) -> list[Finding]:
        """A labelled segment (a machine-written header) is read as "Name: value", so its name is
        the value's label and cue, as in any "key: value" line; offsets stay in the value."""
        if not seg.label:
            return self.scan_text(seg.text, index)
        prefix = f"{seg.label}: "
        shift = len(prefix)
        return [
            dataclasses.replace(f, start=f.start - shift, end=f.end - shift)
            for f in self.scan_text(prefix + seg.text, index)
            if f.start >= shift
        ]

    # -- the pipeline -------------------------------------------------------------------------------
    def inspect(self, message: OutboundMessage) -> Verdict:
        started = time.perf_counter()
        try:
            extraction = self.extractor.extract(message)
            findings: list[Finding] = []
            segments = list(extraction.segments)
            segments.extend(decoded_segments(segments))  # text the sender base64-encoded
            for i, seg in enumerate(segments):
                findings.extend(self._scan_segment(seg, i))
            self._scan_part_joins(segments, findings)
            findings = without_correspondents(findings, segments)  # their own addresses: not contacts
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
        body = [s for s in segments if s.kind in text_kinds]  # part headers between them are skipped
        for a, b in itertools.pairwise(body):
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

    # -- redaction (pure functions in redact.py) ----------------------------------------------------
    def redact_text(
        self, text: str, findings: Sequence[Finding] | None = None, types: Collection[str] | None = None
    ) -> str:
        """`text` with every finding (of `types`, all when None) masked; scanned when not given."""
        return redact.redact_text(text, self.scan_text(text) if findings is None else findings, types)

    def redact_json(self, payload: Any) -> Any:
        """Every string value in a JSON value masked by its own scan (keys are kept)."""
        return redact.mask_json(payload, self.redact_text)

    def redact_message(
        self, raw: bytes, verdict: Verdict | None = None, types: Collection[str] | None = None
    ) -> bytes:
        """The message with what `verdict` found (inspected here when not given) masked everywhere,
        then inspected again; raises InspectionError if anything of the masked types is left."""
        if verdict is None:
            verdict = self.inspect(OutboundMessage(channel=Channel.API, raw=raw))
        wanted = tuple(types) if types is not None else redact.types_to_redact(verdict)
        out = redact.redact_message(raw, verdict, wanted)
        if not self.recheck(OutboundMessage(channel=Channel.API, raw=out), wanted).clean:
            raise InspectionError("redaction left findings in the message")
        return out

    def recheck(self, redacted: OutboundMessage, types: Collection[str]) -> redact.Recheck:
        """The one inspection of a redacted output (see `redact.recheck`)."""
        return redact.recheck(self.inspect, redacted, types)


__all__ = ["Action", "Inspector"]
