"""The guard's exceptions.

    GuardError
    ├── ConfigError          bad settings; the message names the key (start-up stops)
    ├── RuleError            bad rule or policy file; names the file and rule id
    ├── InspectionError      inspection could not finish; the message fails closed
    │   └── UnscannableError content that cannot be inspected (bomb, encrypted archive)
    ├── DeliveryError        the upstream did not take the message
    │   ├── TemporaryDeliveryError  retry later (4xx, timeout, connection refused)
    │   └── PermanentDeliveryError  the upstream refused for good (5xx)
    └── StoreError           the quarantine/audit store failed; nothing was acknowledged
        ├── NotFound         no such quarantine item
        └── Conflict         the item is not in a state that allows the action

No message of any of these carries a sensitive value: raise them with types, counts and ids.
"""

from __future__ import annotations


class GuardError(Exception):
    """Base class of every error the guard raises on purpose."""


class ConfigError(GuardError):
    pass


class RuleError(GuardError):
    pass


class InspectionError(GuardError):
    pass


class UnscannableError(InspectionError):
    pass


class DeliveryError(GuardError):
    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TemporaryDeliveryError(DeliveryError):
    pass


class PermanentDeliveryError(DeliveryError):
    pass


class StoreError(GuardError):
    pass


class NotFound(StoreError):
    pass


class Conflict(StoreError):
    pass
