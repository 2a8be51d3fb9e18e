"""The guard's exceptions, all in one tree, each with a machine `Reason`.

    GuardError
    ├── ConfigError              bad settings; the message names the key (start-up stops)
    ├── RuleError                bad rule or policy file; names the file and rule id
    ├── RequestError (ValueError)  a caller's request cannot be accepted; `status`, `error`
    │   ├── PayloadError         a chat webhook body (strict JSON / form rules)
    │   └── DraftError           a /api/v1/check draft
    ├── InspectionError          inspection could not finish; the message fails closed
    │   ├── UnscannableError     content that cannot be inspected (bomb, encrypted archive)
    │   └── RedactionError       masking left findings behind; nothing is sent
    ├── DeliveryError            the upstream did not take the message (`code`: its reply code)
    │   ├── TemporaryDeliveryError   retry later (4xx, timeout, connection refused)
    │   │   ├── UpstreamDeferred     SMTP: 4xx, timeout, lost connection (`status`: 4.x.x)
    │   │   ├── UpstreamUnreachable  webhook: refused/reset/bad reply          -> 502
    │   │   └── UpstreamTimeout      webhook: no complete reply in time        -> 504
    │   └── PermanentDeliveryError   the upstream refused for good (5xx)
    │       └── UpstreamRefused      SMTP: 5xx (`status`: the upstream's 5.x.x)
    └── StoreError               the quarantine/audit store failed; nothing was acknowledged
        ├── NotFound             no such quarantine item
        └── Conflict             the item is not in a state that allows the action
            └── Forbidden        the actor's role, four-eyes or own-message rule says no

Every error carries a `reason` (an enum member, `exc.reason`): the review UI, the review API
and the adapters choose their message by it, never by the exception text. No message of any
of these carries a sensitive value or an internal host: raise them with types, counts, ids.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why something failed, for machines: the UI and API map these to their own messages."""

    INTERNAL = "internal"
    CONFIG = "config"
    RULES = "rules"
    BAD_REQUEST = "bad_request"
    INSPECTION_FAILED = "inspection_failed"
    UNSCANNABLE = "unscannable"
    REDACTION_FAILED = "redaction_failed"
    UPSTREAM_DEFERRED = "upstream_deferred"
    UPSTREAM_REFUSED = "upstream_refused"
    UPSTREAM_UNREACHABLE = "upstream_unreachable"
    UPSTREAM_TIMEOUT = "upstream_timeout"
    STORE_FAILED = "store_failed"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    ROLE = "role"  # the actor's role does not allow the action
    OWN_MESSAGE = "own_message"  # nobody approves or releases their own message
    FOUR_EYES = "four_eyes"  # a second reviewer must approve first
    ALREADY_APPROVED = "already_approved"


class GuardError(Exception):
    """Base class of every error the guard raises on purpose."""

    reason: Reason = Reason.INTERNAL

    def __init__(self, message: str = "", *, reason: Reason | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class ConfigError(GuardError):
    reason = Reason.CONFIG


class RuleError(GuardError):
    reason = Reason.RULES


class RequestError(GuardError, ValueError):
    """A request the guard refuses as given; `status` is the HTTP status, `error` the JSON code."""

    reason = Reason.BAD_REQUEST

    def __init__(self, message: str, *, status: int = 400, error: str = "invalid_request") -> None:
        super().__init__(message)
        self.status = status
        self.error = error


class PayloadError(RequestError):
    """A chat webhook body cannot be accepted (messages name the problem and position, no value)."""

    def __init__(self, message: str, *, status: int = 400, error: str = "invalid_payload") -> None:
        super().__init__(message, status=status, error=error)


class DraftError(RequestError):
    """A /api/v1/check draft is invalid (messages name the field and rule, never the value)."""


class InspectionError(GuardError):
    reason = Reason.INSPECTION_FAILED


class UnscannableError(InspectionError):
    reason = Reason.UNSCANNABLE


class RedactionError(InspectionError):
    reason = Reason.REDACTION_FAILED


class DeliveryError(GuardError):
    def __init__(self, message: str, *, code: int | None = None, reason: Reason | None = None) -> None:
        super().__init__(message, reason=reason)
        self.code = code


class TemporaryDeliveryError(DeliveryError):
    reason = Reason.UPSTREAM_DEFERRED


class PermanentDeliveryError(DeliveryError):
    reason = Reason.UPSTREAM_REFUSED


class UpstreamDeferred(TemporaryDeliveryError):
    """The next SMTP hop did not take the message this time; the client should retry."""

    def __init__(self, message: str, *, code: int | None = None, status: str = "4.4.0") -> None:
        super().__init__(message, code=code)
        self.status = status


class UpstreamRefused(PermanentDeliveryError):
    """The next SMTP hop refused the message for good (5xx)."""

    def __init__(self, message: str, *, code: int = 554, status: str = "5.0.0") -> None:
        super().__init__(message, code=code)
        self.status = status


class UpstreamUnreachable(TemporaryDeliveryError):
    """A webhook upstream refused the connection, reset it or sent a bad reply."""

    reason = Reason.UPSTREAM_UNREACHABLE


class UpstreamTimeout(TemporaryDeliveryError):
    """A webhook upstream gave no complete reply in `http.upstream_timeout_s`."""

    reason = Reason.UPSTREAM_TIMEOUT


class StoreError(GuardError):
    reason = Reason.STORE_FAILED


class NotFound(StoreError):
    reason = Reason.NOT_FOUND


class Conflict(StoreError):
    reason = Reason.CONFLICT


class Forbidden(Conflict):
    """The actor's role, the four-eyes rule or the own-message rule does not allow the action."""

    reason = Reason.ROLE
