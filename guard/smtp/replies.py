"""Every SMTP reply the relay gives after DATA, made in one place.

`reply_for_outcome` turns what happened to a message (relayed, redacted, held, blocked, per
audience) into one reply; `reply_for_error` is the one mapping from failures to replies:

    inspection failed / internal error / store failed  -> 451 4.3.0   (client retries; nothing lost)
    upstream 4xx, timeout, connection error            -> 451 4.4.x
    upstream 5xx                                       -> the upstream's 5xx code and status

Replies name entity types, counts, policy rows and ids, never a sensitive value. Texts are
made ASCII and single-line per reply line; lines stay under the RFC 5321 limit of 512 octets.
"""

from __future__ import annotations

import asyncio
import textwrap
from typing import TYPE_CHECKING

from guard.delivery.smtp import split_status
from guard.errors import InspectionError, PermanentDeliveryError, StoreError, TemporaryDeliveryError
from guard.model import Action, Audience

if TYPE_CHECKING:
    from guard.actions import Delivery, Outcome

_LINE = 400  # characters of text per reply line (well inside 512 octets with code and status)

#: Status strings used by the relay (the codes are fixed by DESIGN.md).
HELD_ACCEPT = ("250", "2.6.0")
HELD_REJECT = ("550", "5.7.1")
BLOCKED = ("550", "5.7.1")
INTERNAL_ERROR = "451 4.3.0 Internal error; the message was not accepted, please try again later"


def clean(text: str) -> str:
    """One line of printable ASCII."""
    flat = " ".join(text.split())
    return flat.encode("ascii", "replace").decode("ascii")


def multiline(code: str, status: str, lines: list[str]) -> str:
    """A (possibly) multi-line reply: `550-5.7.1 a` CRLF `550 5.7.1 b`."""
    wrapped: list[str] = []
    for line in lines:
        wrapped.extend(textwrap.wrap(clean(line), _LINE) or [""])
    wrapped = [w for w in wrapped if w] or ["-"]
    out = [f"{code}-{status} {w}" for w in wrapped[:-1]]
    out.append(f"{code} {status} {wrapped[-1]}")
    return "\r\n".join(out)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{t} x{n}" for t, n in counts.items()) or "none"


def _recipients(n: int, audiences: tuple[Audience, ...]) -> str:
    kind = " and ".join(a.value for a in audiences)
    return f"{n} {kind} recipient{'s' if n != 1 else ''}"


def _relayed_summary(outcome: Outcome, relayed: list[Delivery]) -> str:
    parts = []
    for d in relayed:
        how = "with sensitive values masked" if d.action is Action.REDACT else "as written"
        parts.append(f"{_recipients(len(d.recipients), d.audiences)} {how}")
    return "; ".join(parts)


def reply_for_outcome(outcome: Outcome, *, quarantine_reply: str = "accept") -> str:
    """The one reply for a message whose deliveries all succeeded (or were held or blocked)."""
    verdict = outcome.verdict
    counts = verdict.counts()
    qid = outcome.queue_id
    relayed = [d for d in outcome.deliveries if d.action in (Action.ALLOW, Action.REDACT)]
    held = [d for d in outcome.deliveries if d.action is Action.QUARANTINE]
    blocked = [d for d in outcome.deliveries if d.action is Action.BLOCK]

    if blocked:
        decision = verdict.decisions.get(blocked[0].audiences[0], verdict.decision)
        lines = [
            f"Not sent (guard id {qid}): the message contains sensitive data that policy does not "
            f"allow to reach {_recipients(sum(len(d.recipients) for d in blocked), blocked[0].audiences)}.",
            f"Found: {_counts(counts)}.",
            f"Policy: {decision.rows[0] if decision.rows else 'default'}.",
        ]
        if decision.explanation:
            lines.append(decision.explanation)
        if decision.advice and decision.advice not in decision.explanation:
            lines.append(f"What to do: {decision.advice}")
        for d in held:
            who = _recipients(len(d.recipients), d.audiences)
            lines.append(f"Held for security review as {d.quarantine_id} for {who}.")
        if relayed:
            lines.append(f"Already delivered to {_relayed_summary(outcome, relayed)}; do not resend to them.")
        else:
            lines.append("Nothing was delivered.")
        return multiline(*BLOCKED, lines)

    if held:
        ids = ", ".join(d.quarantine_id or "?" for d in held)
        decision = verdict.decisions.get(held[0].audiences[0], verdict.decision)
        what = f"{_counts(counts)}; policy {decision.rows[0] if decision.rows else 'default'}"
        also = f"; delivered now to {_relayed_summary(outcome, relayed)}" if relayed else ""
        if quarantine_reply == "reject":
            lines = [
                f"Held for security review as {ids} ({what}); not delivered yet{also}.",
                decision.explanation,
                "A reviewer will release or reject it; do not resend.",
            ]
            return multiline(*HELD_REJECT, lines)
        return multiline(*HELD_ACCEPT, [f"Held for security review as {ids} ({what}){also}"])

    receipt = relayed[0].receipt if len(relayed) == 1 else None
    if receipt is not None:
        status, text = split_status(receipt.code, receipt.message)
        if relayed[0].action is Action.REDACT:
            text = f"Relayed with sensitive values masked ({_counts(counts)}); upstream: {text}"
        return multiline(str(receipt.code), status, [f"{text} (guard id {qid})"])
    return multiline("250", "2.0.0", [f"Relayed to {_relayed_summary(outcome, relayed)} (guard id {qid})"])


def reply_for_error(exc: BaseException, queue_id: str | None = None) -> str:
    """The reply for a failure before the message was safely handed on. Never a 2xx."""
    ref = f" (guard id {queue_id})" if queue_id else ""
    if isinstance(exc, PermanentDeliveryError):
        code = exc.code if exc.code is not None and 500 <= exc.code < 600 else 554
        status = getattr(exc, "status", "5.0.0")
        return multiline(str(code), status, [f"{exc}{ref}"])
    if isinstance(exc, TemporaryDeliveryError):
        status = getattr(exc, "status", "4.4.0")
        return multiline("451", status, [f"{exc}; please try again later{ref}"])
    if isinstance(exc, InspectionError):
        return multiline(
            "451",
            "4.3.0",
            [f"The message could not be inspected and was not sent; please try again later{ref}"],
        )
    if isinstance(exc, StoreError):
        return multiline(
            "451",
            "4.3.0",
            [
                f"The quarantine store is unavailable; the message was not "
                f"accepted, please try again later{ref}"
            ],
        )
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return multiline(
            "451", "4.4.2", [f"Timed out; the message was not accepted, please try again later{ref}"]
        )
    return INTERNAL_ERROR + ref
