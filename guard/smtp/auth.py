"""SMTP AUTH users: names with argon2 or bcrypt password hashes from `smtp.users`.

Checking a hash costs tens of milliseconds of CPU on purpose, so `verify` runs in a worker
thread and the event loop keeps serving other connections. Unknown names are checked
against a dummy hash so that timing does not reveal which names exist.
"""

from __future__ import annotations

import asyncio

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from guard.config import SmtpUser
from guard.errors import ConfigError

_argon2 = PasswordHasher()
_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")


def hash_password(password: str, scheme: str = "argon2") -> str:
    """A hash for `smtp.users[].password_hash` (argon2id by default)."""
    if scheme == "argon2":
        return _argon2.hash(password)
    if scheme == "bcrypt":
        return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt()).decode("ascii")
    raise ValueError(f"unknown scheme {scheme!r}; use argon2 or bcrypt")


def _check(password_hash: str, password: bytes) -> bool:
    if password_hash.startswith("$argon2"):
        try:
            return _argon2.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
    try:
        return bcrypt.checkpw(password, password_hash.encode("ascii"))
    except ValueError:  # e.g. a password longer than bcrypt's 72 bytes
        return False


class UserDirectory:
    """The configured SMTP AUTH users."""

    def __init__(self, users: list[SmtpUser]) -> None:
        self._hashes: dict[str, str] = {}
        for i, user in enumerate(users):
            h = user.password_hash
            if not (h.startswith("$argon2") or h.startswith(_BCRYPT_PREFIXES)):
                raise ConfigError(
                    f"smtp.users[{i}].password_hash: expected an argon2 ($argon2id$…) or bcrypt ($2b$…) hash"
                )
            self._hashes[user.name] = h
        # Unknown names are checked against a real user's hash (same cost), and still fail.
        self._dummy = next(iter(self._hashes.values()), "")

    def __bool__(self) -> bool:
        return bool(self._hashes)

    def verify(self, name: bytes | str, password: bytes | str) -> bool:
        """True if `name` exists and `password` matches its hash (CPU-bound; call via `averify`)."""
        if isinstance(name, bytes):
            name = name.decode("utf-8", "replace")
        if isinstance(password, str):
            password = password.encode("utf-8")
        stored = self._hashes.get(name)
        if not (stored or self._dummy):
            return False
        ok = _check(stored or self._dummy, password)
        return ok and stored is not None

    async def averify(self, name: bytes | str, password: bytes | str) -> bool:
        return await asyncio.to_thread(self.verify, name, password)
