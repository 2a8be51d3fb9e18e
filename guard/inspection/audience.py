"""Audience: is a recipient inside the organisation? And does its domain imitate ours?

Internal means the domain is an internal domain or one of its subdomains, after IDNA and case
normalisation. Addresses that could route elsewhere (percent hack, bang paths, source routes,
a second "@") are external. A domain that looks like an internal one but is not (`examp1e.com`,
`exarnple.com`, a Cyrillic homoglyph) is external and flagged as a look-alike.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from guard.model import Audience, Finding, RecipientClass, Segment

_CONFUSABLE = str.maketrans(
    {
        "0": "o",
        "1": "l",
        "i": "l",
        "|": "l",
        "3": "e",
        "5": "s",
        "$": "s",
        "4": "a",
        "@": "a",
        "7": "t",
        "8": "b",
        "9": "g",
        "6": "b",
        "2": "z",
        # Cyrillic and Greek letters that render like Latin ones
        "а": "a",
        "е": "e",
        "о": "o",
        "р": "p",
        "с": "c",
        "у": "y",
        "х": "x",
        "і": "l",
        "ј": "j",
        "ԁ": "d",
        "ո": "n",
        "ν": "v",
        "ο": "o",
        "α": "a",
        "ρ": "p",
        "к": "k",
        "м": "m",
        "т": "t",
        "н": "h",
        "в": "b",
    }
)


def domain_of(address: str) -> str:
    addr = address.strip().strip("<>").strip()
    if ":" in addr and addr.startswith("@"):  # source route "@relay:user@host"
        addr = addr.split(":", 1)[1]
    _, _, domain = addr.rpartition("@")
    return domain.strip().rstrip(".").lower()


def to_ascii(domain: str) -> str:
    try:
        return domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return domain.lower()


def to_unicode(domain: str) -> str:
    try:
        return domain.encode("ascii").decode("idna")
    except UnicodeError:
        return domain


def _skeleton(label: str) -> str:
    s = unicodedata.normalize("NFKC", label.lower()).translate(_CONFUSABLE)
    return s.replace("rn", "m").replace("vv", "w").replace("cl", "d").replace("-", "")


def _edit_distance_at_most_one(a: str, b: str) -> bool:
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = j = diffs = 0
    while i < len(a) and j < len(b):
        if a[i] != b[j]:
            diffs += 1
            if diffs > 1:
                return False
            if len(a) == len(b):
                i += 1
            j += 1
        else:
            i += 1
            j += 1
    return diffs + (len(b) - j) + (len(a) - i) <= 1


class AudienceClassifier:
    def __init__(self, internal_domains: list[str]) -> None:
        self.internal = [to_ascii(d) for d in internal_domains]
        self._skeletons = {d: _skeleton(to_unicode(d).rsplit(".", 1)[0]) for d in self.internal}
        self._domains: dict[
            str, tuple[bool, str, str | None]
        ] = {}  # domain -> (internal, ascii, look-alike of)

    def _domain_facts(self, domain: str) -> tuple[bool, str, str | None]:
        facts = self._domains.get(domain)
        if facts is None:
            internal = self.is_internal_domain(domain)
            facts = (internal, to_ascii(domain), None if internal else self.lookalike_of(domain))
            if len(self._domains) < 10_000:  # bounded: recipients' domains repeat, attackers' may not
                self._domains[domain] = facts
        return facts

    def is_internal_domain(self, domain: str) -> bool:
        d = to_ascii(domain)
        return any(d == i or d.endswith("." + i) for i in self.internal)

    def lookalike_of(self, domain: str) -> str | None:
        d = to_ascii(domain)
        if self.is_internal_domain(d):
            return None
        uni = to_unicode(d)
        base = uni.rsplit(".", 1)[0] if "." in uni else uni
        sk = _skeleton(base)
        for internal, isk in self._skeletons.items():
            if len(isk) >= 4 and (sk == isk or _edit_distance_at_most_one(sk, isk) or sk.endswith("." + isk)):
                return internal
        return None

    def classify(self, address: str) -> RecipientClass:
        raw = address.strip().strip("<>")
        domain = domain_of(raw)
        local = raw.rpartition("@")[0]
        routing_tricks = "%" in local or "!" in local or "@" in local or raw.startswith("@")
        if not domain:
            return RecipientClass(address, Audience.EXTERNAL, "", None)
        internal, ascii_domain, lookalike = self._domain_facts(domain)
        if internal and not routing_tricks:
            return RecipientClass(address, Audience.INTERNAL, ascii_domain)
        return RecipientClass(address, Audience.EXTERNAL, ascii_domain, lookalike)


#: Segment kinds that name the correspondents or trace the route (extract.py): the addresses and
#: names in them are the sender's and recipients' own, not a customer contact list.
CORRESPONDENT_KINDS = frozenset({"address", "trace"})


def without_correspondents(findings: list[Finding], segments: Sequence[Segment]) -> list[Finding]:
    """Findings minus contact details (EMAIL, PHONE, PERSON, ADDRESS) found in address and trace
    segments. A card or an SSN in a display name or a Received header still counts."""
    return [
        f
        for f in findings
        if not (
            f.category == "contact"
            and 0 <= f.segment < len(segments)
            and segments[f.segment].kind in CORRESPONDENT_KINDS
        )
    ]
