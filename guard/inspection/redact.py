"""Redaction: pure functions that mask what inspection found, everywhere a recipient can see it.

A `redact` decision names the types to mask (the deciding policy row's `redact` list). The values
come from the verdict's findings, with no second inspection: the text each finding covers in its
segment, the base64 token that carried it, and its partner (an AWS key id and the secret beside
it are one credential). They are masked wherever they appear: every header (Subject, X- headers,
Comments, display names...), part and file names, text parts and text attachments, preamble and
epilogue, forwarded messages and their headers, every string, key and number of a chat payload.

The caller then inspects the result once (`recheck`): if anything of the masked types is still
found, the message is held instead (fail closed). That is also how an attachment that cannot be
rewritten in place (a PDF, an archive, an image) ends up held rather than sent.
"""

from __future__ import annotations

import base64
import email
import email.policy
import email.utils
import html
import json
import quopri
import re
from bisect import bisect_right
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from typing import Any

import re2

from guard.errors import InspectionError
from guard.inspection.mask import redaction
from guard.model import Action, Finding, OutboundMessage, Segment, Verdict

_MAX_DEPTH = 20
_CHUNK = 1000  # values per compiled alternation
_ALNUM = re.compile(r"[^\W_]+")
# Runs of letters and digits; HTML tags and character references between them are skipped.
_TOKENS = re.compile(r"<[^<>]*>|&[#A-Za-z0-9]{1,10};|([^\W_]+)")
_NOT_REWRITTEN = frozenset(
    {"content-type", "content-disposition", "content-transfer-encoding", "mime-version"}
)
_SIGNATURES = ("dkim-signature", "arc-message-signature", "arc-seal")
_TEXTUAL_APPLICATIONS = frozenset(
    {"json", "xml", "csv", "x-csv", "yaml", "x-yaml", "javascript", "x-sh", "sql", "x-ndjson", "ld+json"}
)


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 256 << 20
    return options


@dataclass(frozen=True, slots=True, order=True)
class Mask:
    """One value to mask, as it was written, and the type that names its placeholder."""

    type: str
    value: str


# -- which values ------------------------------------------------------------------------------------
_KEY_ID = "(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z0-9]{16}"
_PAIRS: dict[str, tuple[re2._Regexp, int]] = {
    # An AWS key id and its secret access key are one credential: the secret is 40 base64
    # characters written beside the id (in a CSV row, an env file, a sentence).
    "AWS_ACCESS_KEY_ID": (re2.compile(r"(?:^|[^A-Za-z0-9/+])([A-Za-z0-9/+]{40})(?:$|[^A-Za-z0-9/+=])"), 300),
    "AWS_SECRET_ACCESS_KEY": (re2.compile(f"(?:^|[^A-Z0-9])({_KEY_ID})(?:$|[^A-Z0-9])"), 300),
}


def _is_secret_like(token: str) -> bool:
    return (
        any(c.isdigit() for c in token)
        and any(c.isupper() for c in token)
        and any(c.islower() for c in token)
    )


def partners(finding: Finding, text: str) -> list[Mask]:
    """The other half of a pair whose one half is `finding` (offsets into `text`)."""
    pair = _PAIRS.get(finding.detector)
    if pair is None:
        return []
    regex, window = pair
    lo, hi = max(0, finding.start - window), min(len(text), finding.end + window)
    out = []
    for m in regex.finditer(text[lo:hi]):
        token = m.group(1)
        if token and (finding.detector != "AWS_ACCESS_KEY_ID" or _is_secret_like(token)):
            out.append(Mask(finding.type, token))
    return out


def _value_masks(entity_type: str, value: str) -> Iterator[Mask]:
    value = value.strip()
    if not value:
        return
    yield Mask(entity_type, value)
    if "\n" in value or "\r" in value:  # wrapped, quoted or split across two parts: each piece too
        for piece in value.splitlines():
            piece = piece.strip().lstrip(">").strip()
            if sum(c.isalnum() for c in piece) >= 4:
                yield Mask(entity_type, piece)


def masks(verdict: Verdict, types: Collection[str]) -> tuple[Mask, ...]:
    """Every value of `types` the verdict found, as written, with the base64 tokens that carried
    them and their pair partners."""
    wanted = set(types) - {"UNSCANNABLE"}
    segments = verdict.segments
    out: set[Mask] = set()
    for f in verdict.findings:
        if f.type not in wanted or not 0 <= f.segment < len(segments) or f.end <= f.start:
            continue
        seg = segments[f.segment]
        out.update(_value_masks(f.type, seg.text[f.start : f.end]))
        out.update(partners(f, seg.text))
        out.update(_carriers(f.type, seg, segments))
    return tuple(sorted(out))


def _carriers(entity_type: str, seg: Segment, segments: Sequence[Segment]) -> Iterator[Mask]:
    """The encoded tokens a decoded segment came from (a base64 token inside a text)."""
    for _ in range(8):
        if seg.parent is None or not 0 <= seg.parent < len(segments):
            return
        token = segments[seg.parent].text[seg.parent_start : seg.parent_end]
        if token.strip():
            yield Mask(entity_type, token.strip())
        seg = segments[seg.parent]


# -- masking a string ----------------------------------------------------------------------------------
def _skeleton(value: str) -> str:
    """A value's letters and digits only: how it is found again with other separators or markup."""
    return "".join(_ALNUM.findall(value))


class _Alternation:
    """Many literals found in one pass (RE2 alternations without groups, longest first: the
    wrapper's cost per match grows with the number of groups); the match names its type."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self._types: dict[str, str] = {}
        for value, entity_type in pairs:
            self._types.setdefault(value, entity_type)
        values = list(self._types)
        self._compiled = [
            re2.compile("|".join(re2.escape(v) for v in values[i : i + _CHUNK]), _options())
            for i in range(0, len(values), _CHUNK)
        ]

    def __bool__(self) -> bool:
        return bool(self._compiled)

    def sub(self, text: str) -> str:
        for regex in self._compiled:
            text = regex.sub(lambda m: redaction(self._types[m.group()]), text)
        return text

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        out: list[tuple[int, int, str]] = []
        for regex in self._compiled:
            out.extend((m.start(), m.end(), self._types[m.group()]) for m in regex.finditer(text))
        return out


@dataclass(slots=True)
class Masker:
    """Replaces every occurrence of the masks' values in a string by the type's placeholder: as
    written, then (values of 4+ letters and digits) wherever the same letters and digits appear
    with only separators, markup, HTML tags or character references between them. Two passes
    over a string whatever the number of values (a bulk export has thousands)."""

    masks: Sequence[Mask]
    drop: tuple[str, ...] = ()  # sources with findings: an attachment named in one is dropped
    _literal: _Alternation = field(init=False)
    _flexible: _Alternation = field(init=False)

    def __post_init__(self) -> None:
        ordered = sorted(set(self.masks), key=lambda m: (-len(m.value), m.type, m.value))
        self._literal = _Alternation([(m.value, m.type) for m in ordered])
        skeletons: dict[str, str] = {}
        for m in ordered:
            key = _skeleton(m.value)
            if len(key) >= 4:
                skeletons.setdefault(key, m.type)
        self._flexible = _Alternation(sorted(skeletons.items(), key=lambda kv: (-len(kv[0]), kv[0])))

    def __bool__(self) -> bool:
        return bool(self._literal)

    def __call__(self, text: str) -> str:
        if not text or not self._literal:
            return text
        return self._mask_flexible(self._literal.sub(text))

    def _mask_flexible(self, text: str) -> str:
        starts: list[int] = []  # where each run of letters/digits starts in the skeleton
        origins: list[int] = []  # ... and in the text
        ends: list[int] = []  # for a character reference (&#52;): where it ends in the text, else -1
        pieces: list[str] = []
        length = 0
        for m in _TOKENS.finditer(text):
            run, end = m.group(1), -1
            if not run and m.group().startswith("&"):
                run, end = html.unescape(m.group()), m.end()
                if len(run) != 1 or not _ALNUM.fullmatch(run):
                    continue
            if run:
                starts.append(length)
                origins.append(m.start())
                ends.append(end)
                pieces.append(run)
                length += len(run)
        if not pieces:
            return text
        spans = []
        for s, e, entity_type in self._flexible.spans("".join(pieces)):
            i, j = bisect_right(starts, s) - 1, bisect_right(starts, e - 1) - 1
            start = origins[i] + s - starts[i]
            end = ends[j] if ends[j] >= 0 else origins[j] + e - 1 - starts[j] + 1
            if (start and _ascii_alnum(text[start - 1]) and _ascii_alnum(text[start])) or (
                end < len(text) and _ascii_alnum(text[end]) and _ascii_alnum(text[end - 1])
            ):
                continue  # inside a longer word or number: not this value
            spans.append((start, end, entity_type))
        out, last = [], 0
        for start, end, entity_type in sorted(spans):
            if start < last:
                continue  # overlaps a longer value already masked (values from two alternations)
            out.append(text[last:start])
            out.append(redaction(entity_type))
            last = end
        out.append(text[last:])
        return "".join(out)


def _ascii_alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


def redact_text(text: str, findings: Sequence[Finding], types: Collection[str] | None = None) -> str:
    """`text` with every finding of `types` (all when None) replaced by a placeholder naming its
    type, at its offsets and wherever else the same value (or its pair partner) appears."""
    chosen = [f for f in findings if (types is None or f.type in types) and f.type != "UNSCANNABLE"]
    out = []
    last = 0
    extra: list[Mask] = []
    for f in sorted(chosen, key=lambda f: f.start):
        extra.extend(_value_masks(f.type, text[f.start : f.end]))
        extra.extend(partners(f, text))
        if f.start < last or f.end <= f.start:
            continue
        out.append(text[last : f.start])
        out.append(redaction(f.type))
        last = f.end
    out.append(text[last:])
    return Masker(extra)("".join(out))


def types_to_redact(verdict: Verdict, audience: Any = None) -> tuple[str, ...]:
    """The types a REDACT decision masks: the deciding row's list, else every type found."""
    decision = verdict.decisions.get(audience) if audience is not None else verdict.decision
    decision = decision or verdict.decision
    return decision.redact or tuple(t for t in verdict.counts() if t != "UNSCANNABLE")


def redact_string(text: str, verdict: Verdict, types: Collection[str]) -> str:
    """One string of a draft or payload with every value of `types` the verdict found masked."""
    return Masker(masks(verdict, types))(text)


# -- JSON payloads -------------------------------------------------------------------------------------
def redact_payload(payload: Any, verdict: Verdict, types: Collection[str], *, numbers: bool = False) -> Any:
    """A JSON value (a chat payload, form fields) with every value of `types` masked in every
    string and every key (and number, with `numbers`: for a draft, not for what is relayed)."""
    masker = Masker(masks(verdict, types))
    if not masker:
        return payload
    out = mask_json(payload, masker, numbers=numbers)
    _notify("redacted", out)
    return out


def mask_json(payload: Any, masker: Callable[[str], str], _depth: int = 0, *, numbers: bool = False) -> Any:
    """Numbers keep their type unless `numbers` (a service may reject a string there): a value
    written as a number is then left for the recheck, which holds the message."""
    if _depth > 100:
        raise InspectionError("JSON nested too deeply to redact")
    if isinstance(payload, str):
        return masker(payload)
    if numbers and isinstance(payload, int | float) and not isinstance(payload, bool):
        text = json.dumps(payload)
        masked = masker(text)
        return payload if masked == text else masked
    if isinstance(payload, list | tuple):
        return [mask_json(v, masker, _depth + 1, numbers=numbers) for v in payload]
    if isinstance(payload, dict):
        out: dict[str, Any] = {}
        for k, v in payload.items():
            key = masker(k) if isinstance(k, str) else k
            while key in out:  # two keys masked to one: keep both
                key = f"{key}_"
            out[key] = mask_json(v, masker, _depth + 1, numbers=numbers)
        return out
    return payload


# -- mail --------------------------------------------------------------------------------------------
def redact_message(
    raw: bytes, verdict: Verdict, types: Collection[str], *, drop_unmaskable: bool = False
) -> bytes:
    """The message with every value of `types` the verdict found masked in every header, file
    name, text part and forwarded message. Attachments it cannot rewrite (PDF, archive, image)
    are left for the recheck to hold the message, or, with `drop_unmaskable` (a draft to send
    instead), replaced by a notice when the verdict found a value of `types` in them."""
    masker = Masker(masks(verdict, types))
    if not masker:
        return raw
    if drop_unmaskable:
        masker.drop = _found_in(verdict, types)
    out = mask_message(raw, masker)
    _notify("redacted", out)
    return out


def _found_in(verdict: Verdict, types: Collection[str]) -> tuple[str, ...]:
    segments = verdict.segments
    return tuple(
        sorted(
            {
                segments[f.segment].source
                for f in verdict.findings
                if f.type in types and 0 <= f.segment < len(segments)
            }
        )
    )


def _drop(part: EmailMessage, name: str) -> None:
    part.set_content(
        f"The attachment {name} was removed by Outbound Guard: it carries sensitive data that cannot be "
        "masked in place.\n",
        subtype="plain",
        charset="utf-8",
        disposition="attachment",
        filename=f"{name}.removed.txt",
    )


def mask_message(raw: bytes, masker: Masker) -> bytes:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    if not isinstance(msg, EmailMessage):  # pragma: no cover - policy.default always gives EmailMessage
        raise InspectionError("cannot redact this message")
    if not _mask_entity(msg, masker, 0):
        return raw
    return msg.as_bytes(policy=email.policy.SMTP)


def has_signature(raw: bytes) -> bool:
    """Whether the message carries a DKIM/ARC signature (which a rewrite invalidates)."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].lower()
    return any(b"\n" + s.encode() + b":" in b"\n" + head for s in _SIGNATURES)


def _mask_entity(part: EmailMessage, masker: Masker, depth: int) -> bool:
    """Mask one message or MIME part in place, children included; True if anything changed."""
    if depth > _MAX_DEPTH:
        raise InspectionError("message nested too deeply to redact")
    original_name = part.get_filename()
    changed = _mask_headers(part, masker)
    changed |= _mask_names(part, masker)
    if part.get_content_type() == "message/rfc822" or part.is_multipart():
        for attr in ("preamble", "epilogue"):
            text = getattr(part, attr, None)
            if isinstance(text, str) and (masked := masker(text)) != text:
                setattr(part, attr, masked)
                changed = True
        payload = part.get_payload()
        children = payload if isinstance(payload, list) else []
        first = children[0] if children else None
        if isinstance(first, EmailMessage) and _encoded_forward(part, children):
            # the parser read the base64 text as a headerless message
            return _mask_encoded_forward(part, first, masker, depth) or changed
        for child in children:
            if isinstance(child, EmailMessage):
                changed |= _mask_entity(child, masker, depth + 1)
        if children or part.is_multipart():
            return changed
    if _mask_body(part, masker, depth):
        return True
    if masker.drop and original_name and not part.is_multipart() and _unmaskable(part):
        label = f"attachment {original_name}"
        if any(label in source for source in masker.drop):
            _drop(part, masker(original_name))
            return True
    return changed


def _unmaskable(part: EmailMessage) -> bool:
    maintype, subtype = part.get_content_maintype(), part.get_content_subtype()
    return not (maintype == "text" or (maintype == "application" and subtype in _TEXTUAL_APPLICATIONS))


def _encoded_forward(part: EmailMessage, children: list[Any]) -> bool:
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    return (
        part.get_content_type() == "message/rfc822"
        and cte == "base64"
        and len(children) == 1
        and isinstance(children[0], EmailMessage)
        and not children[0].keys()
        and isinstance(children[0].get_payload(), str)
    )


def _mask_encoded_forward(part: EmailMessage, inner: EmailMessage, masker: Masker, depth: int) -> bool:
    """A base64-encoded forwarded message (RFC 2046 allows only 7bit/8bit/binary there): decoded,
    masked as a message and embedded plainly, so no line of the old encoding is left."""
    raw_text = str(inner.get_payload())
    encoded = "".join(raw_text.split())
    try:
        data = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    except ValueError:
        return False  # not base64 after all: the recheck judges it
    if depth >= _MAX_DEPTH:
        raise InspectionError("message nested too deeply to redact")
    masked = mask_message(data, masker)
    if masked == data and masker(raw_text) == raw_text:
        return False
    forwarded = email.message_from_bytes(masked, policy=email.policy.default)
    part.set_payload([forwarded])
    part.replace_header("Content-Transfer-Encoding", "7bit" if masked.isascii() else "8bit")
    return True


def _mask_headers(part: EmailMessage, masker: Masker) -> bool:
    changed = False
    store: list[tuple[str, Any]] = part._headers  # type: ignore[attr-defined]  # replaced in place: order kept
    for i, (name, _) in enumerate(list(store)):
        lower = name.lower()
        if lower in _NOT_REWRITTEN or lower in _SIGNATURES:
            continue
        header = part.policy.header_fetch_parse(name, store[i][1])
        try:
            new = _mask_header_value(header, masker)
        except Exception:  # a header the parser cannot rebuild: its decoded text, masked
            new = masker(str(header))
        if new is not None and new != str(header):
            store[i] = part.policy.header_store_parse(name, new)
            changed = True
    return changed


def _mask_header_value(header: Any, masker: Masker) -> str | None:
    text = str(header)
    addresses = getattr(header, "addresses", None)
    if addresses is None or bool(getattr(header, "defects", None)):
        masked = masker(text)
        return masked if masked != text else None
    rebuilt = []
    dirty = False
    for a in addresses:
        name, spec = masker(a.display_name), masker(a.addr_spec)
        if spec != a.addr_spec:  # the address itself is masked: an empty group keeps the syntax
            label = " ".join(p for p in (name, spec) if p)
            rebuilt.append('"' + label.replace("\\", "\\\\").replace('"', '\\"') + '":;')
            dirty = True
            continue
        dirty |= name != a.display_name
        rebuilt.append(str(_address(name, spec)))
    return ", ".join(rebuilt) if dirty else None


def _address(name: str, spec: str) -> Any:
    from email.headerregistry import Address

    return Address(display_name=name, addr_spec=spec)


def _mask_names(part: EmailMessage, masker: Masker) -> bool:
    """File names (Content-Disposition filename, Content-Type name) masked."""
    changed = False
    for param, header in (("filename", "content-disposition"), ("name", "content-type")):
        if header not in part:
            continue
        value = part.get_param(param, header=header)
        if value is None:
            continue
        text = email.utils.collapse_rfc2231_value(value) if isinstance(value, tuple) else str(value)
        masked = masker(text)
        if masked != text:
            part.set_param(param, masked, header=header)
            changed = True
    return changed


def _mask_body(part: EmailMessage, masker: Masker, depth: int) -> bool:
    maintype, subtype = part.get_content_maintype(), part.get_content_subtype()
    ctype = part.get_content_type()
    if ctype == "message/rfc822":  # a forwarded message the parser kept encoded (base64)
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes) or not data:
            return False
        masked_msg = mask_message(data, masker) if depth < _MAX_DEPTH else data
        if masked_msg == data:
            return False
        _set_bytes(part, masked_msg)
        return True
    textual = maintype == "text" or (maintype == "application" and subtype in _TEXTUAL_APPLICATIONS)
    if not textual:
        return False  # a PDF, an archive, an image: left as is for the recheck to judge
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return False
    charset = part.get_content_charset() or ("us-ascii" if maintype == "text" else "utf-8")
    try:
        text = data.decode(charset)
    except (LookupError, UnicodeDecodeError):
        try:
            charset, text = "utf-8", data.decode("utf-8")
        except UnicodeDecodeError:
            return False  # not text after all: the recheck judges it
    masked = masker(text)
    if masked == text:
        return False
    try:
        encoded = masked.encode(charset)
    except (LookupError, UnicodeEncodeError):
        charset, encoded = "utf-8", masked.encode("utf-8")
    if maintype == "text" or part.get_param("charset") is not None:
        part.set_param("charset", charset)
    _set_bytes(part, encoded)
    return True


def _set_bytes(part: EmailMessage, data: bytes) -> None:
    """Replace a leaf part's body, keeping its headers, with a transfer encoding that is valid
    for the bytes: the original base64/quoted-printable, else 7bit where it fits, else QP."""
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    lines = data.splitlines()
    fits_7bit = data.isascii() and all(len(line) <= 998 for line in lines) and b"\0" not in data
    if cte == "base64" or (cte not in ("quoted-printable",) and not fits_7bit and _binaryish(data)):
        body, cte = base64.encodebytes(data).decode("ascii"), "base64"
    elif cte == "quoted-printable" or not fits_7bit:
        body, cte = quopri.encodestring(data).decode("ascii"), "quoted-printable"
    else:
        body, cte = data.decode("ascii"), (cte if cte in ("7bit", "8bit") else "7bit")
    part.set_payload(body)
    if "Content-Transfer-Encoding" in part:
        part.replace_header("Content-Transfer-Encoding", cte)
    elif cte != "7bit":
        part["Content-Transfer-Encoding"] = cte


def _binaryish(data: bytes) -> bool:
    return b"\0" in data or not all(b in (9, 10, 13) or b >= 32 for b in data[:4096])


# -- the check of the result ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Recheck:
    """The one inspection of a redacted output: what of the masked types is still found."""

    types: tuple[str, ...]
    leftover: tuple[Finding, ...]
    sources: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not self.leftover

    def explanation(self) -> str:
        """Why a redact decision became a hold (value-free: types and places only)."""
        found = ", ".join(sorted({f.type for f in self.leftover}))
        where = "; ".join(self.sources[:5])
        return (
            f"Held for security review instead of redacting: {found} still found after masking in {where} "
            "(a part that cannot be redacted in place, such as a PDF, an archive or an image, is held whole)."
        )


def held_instead(verdict: Verdict, check: Recheck) -> Verdict:
    """The verdict with its REDACT decision turned into QUARANTINE, saying why."""
    decision = replace(verdict.decision, action=Action.QUARANTINE, explanation=check.explanation())
    return replace(
        verdict, action=Action.QUARANTINE, decisions={**verdict.decisions, verdict.audience: decision}
    )


Observer = Callable[[str, Any], None]
_OBSERVERS: list[Observer] = []


def observe(callback: Observer) -> Callable[[], None]:
    """Call `callback("redacted", output)` after every message or payload redaction and
    `callback("recheck", Recheck)` after every recheck (the test suite asserts that every
    redaction is re-inspected and found clean); returns the function that stops it."""
    _OBSERVERS.append(callback)
    return lambda: _OBSERVERS.remove(callback)


def _notify(kind: str, obj: Any) -> None:
    for callback in list(_OBSERVERS):
        callback(kind, obj)


def recheck(
    inspect: Callable[[OutboundMessage], Verdict], redacted: OutboundMessage, types: Iterable[str]
) -> Recheck:
    """Inspect the redacted output once; anything of `types` still found means: do not send it."""
    wanted = tuple(sorted(set(types)))
    verdict = inspect(redacted)
    leftover = tuple(f for f in verdict.findings if f.type in wanted)
    sources = []
    for f in leftover:
        if 0 <= f.segment < len(verdict.segments):
            source = verdict.segments[f.segment].source
            if source not in sources:
                sources.append(source)
    result = Recheck(wanted, leftover, tuple(sources))
    _notify("recheck", result)
    return result


__all__ = [
    "Mask",
    "Masker",
    "Recheck",
    "has_signature",
    "held_instead",
    "mask_json",
    "mask_message",
    "masks",
    "observe",
    "partners",
    "recheck",
    "redact_message",
    "redact_payload",
    "redact_string",
    "redact_text",
    "types_to_redact",
]
