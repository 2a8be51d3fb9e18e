"""Who is asking: review logins (argon2 + optional TOTP), sessions, CSRF, lockout, API tokens.

Sessions are stateless signed cookies (HMAC-SHA256 with a key derived from the store keys,
so every instance sharing the store accepts them): `v1.<payload>.<mac>` with the user, a
session id, the issue time and the last-seen time. A session ends after
`review.session_minutes` without a request, or 12 hours after login, or on logout (the id is
remembered as revoked until it would have expired anyway). The role is read from settings on
every request, so removing a user or lowering a role takes effect at once.

CSRF: every form carries a token that is an HMAC of the session id; logins carry one tied
to a short-lived pre-login cookie. Cookies are HttpOnly, SameSite=Strict, Secure unless
`review.secure_cookies = false` (plain-HTTP development only).

Lockout: `review.lockout_after` failed logins for one user name within 15 minutes lock that
name for 15 minutes (per process; unknown names are counted too, so the answer is the same).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

if TYPE_CHECKING:
    from guard.config import ApiToken, ReviewSettings, ReviewUser

SESSION_COOKIE = "guard_review"
LOGIN_COOKIE = "guard_login"
MAX_SESSION_S = 12 * 3600
LOCK_WINDOW_S = 15 * 60

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against for unknown users, so their answer takes as long as a wrong password."""
    return _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# -- TOTP (RFC 6238: HMAC-SHA1, 30 s steps, 6 digits) -------------------------------------------
def _b32(secret: str) -> bytes:
    s = secret.strip().replace(" ", "").upper()
    return base64.b32decode(s + "=" * (-len(s) % 8))


def totp(secret: str, at: float | None = None, *, step: int = 30, digits: int = 6) -> str:
    counter = int((time.time() if at is None else at) // step)
    mac = hmac.new(_b32(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF) % (10**digits)
    return str(code).zfill(digits)


def totp_step(secret: str, code: str, at: float | None = None, *, window: int = 1) -> int | None:
    """The time step the code belongs to (within ±window steps), or None."""
    now = time.time() if at is None else at
    code = code.strip().replace(" ", "")
    if not code.isdigit():
        return None
    for delta in range(-window, window + 1):
        t = now + delta * 30
        if hmac.compare_digest(totp(secret, t), code):
            return int(t // 30)
    return None


def totp_uri(secret: str, name: str, issuer: str = "Outbound Guard") -> str:
    return f"otpauth://totp/{quote(issuer)}:{quote(name)}?secret={secret}&issuer={quote(issuer)}"


# -- sessions ------------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Session:
    user: str
    sid: str
    issued: float
    seen: float


@dataclass
class Authenticator:
    """Checks credentials and signs sessions; one per process (lockout and revocations live here)."""

    settings: ReviewSettings
    key: bytes
    clock: Callable[[], float] = time.time
    failures: dict[str, list[float]] = field(default_factory=dict)
    revoked: dict[str, float] = field(default_factory=dict)
    used_totp: dict[str, int] = field(default_factory=dict)

    # users and roles
    def user(self, name: str) -> ReviewUser | None:
        return next((u for u in self.settings.users if u.name == name), None)

    def role(self, name: str) -> str | None:
        u = self.user(name)
        return u.role if u else None

    # login
    def locked(self, name: str) -> bool:
        now = self.clock()
        recent = [t for t in self.failures.get(name.lower(), []) if now - t < LOCK_WINDOW_S]
        self.failures[name.lower()] = recent
        return len(recent) >= max(1, self.settings.lockout_after)

    def _fail(self, name: str) -> None:
        self.failures.setdefault(name.lower(), []).append(self.clock())
        if len(self.failures) > 10_000:  # bounded memory under a spray of names
            oldest = sorted(self.failures, key=lambda k: max(self.failures[k], default=0))[:5_000]
            for k in oldest:
                del self.failures[k]

    def check_login(self, name: str, password: str, code: str) -> tuple[ReviewUser | None, str]:
        """(user, "") on success, else (None, reason). Runs argon2: call it in a thread."""
        if self.locked(name):
            return None, "locked"
        user = self.user(name)
        ok = verify_password(user.password_hash if user else _dummy_hash(), password) and user is not None
        if not ok or user is None:
            self._fail(name)
            return None, "invalid"
        if user.totp_secret:
            step = totp_step(user.totp_secret, code, self.clock()) if code else None
            if step is None or self.used_totp.get(user.name, -1) >= step:
                self._fail(name)
                return None, "totp" if not code else "invalid"
            self.used_totp[user.name] = step
        elif self.settings.require_totp:
            return None, "totp_not_set_up"
        self.failures.pop(name.lower(), None)
        return user, ""

    # cookies
    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self.key, payload.encode("ascii"), hashlib.sha256).digest())

    def issue(self, user: str, *, sid: str | None = None, issued: float | None = None) -> str:
        now = self.clock()
        body = {"u": user, "s": sid or secrets.token_urlsafe(16), "i": issued or now, "t": now}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
        return f"v1.{payload}.{self._mac(payload)}"

    def session(self, cookie: str | None) -> Session | None:
        if not cookie or cookie.count(".") != 2:
            return None
        version, payload, mac = cookie.split(".")
        if version != "v1" or not hmac.compare_digest(self._mac(payload), mac):
            return None
        try:
            body = json.loads(_unb64(payload))
            s = Session(
                user=str(body["u"]), sid=str(body["s"]), issued=float(body["i"]), seen=float(body["t"])
            )
        except (ValueError, KeyError, TypeError):
            return None
        now = self.clock()
        if now - s.seen > self.settings.session_minutes * 60 or now - s.issued > MAX_SESSION_S:
            return None
        if s.sid in self.revoked or self.user(s.user) is None:
            return None
        return s

    def revoke(self, s: Session) -> None:
        now = self.clock()
        self.revoked = {k: v for k, v in self.revoked.items() if v > now}
        self.revoked[s.sid] = s.issued + MAX_SESSION_S

    def csrf_token(self, sid: str) -> str:
        return _b64(hmac.new(self.key, b"csrf/" + sid.encode("ascii"), hashlib.sha256).digest())

    def check_csrf(self, sid: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(sid), str(token))


# -- API bearer tokens ---------------------------------------------------------------------------
def token_lookup(tokens: list[ApiToken], presented: str) -> ApiToken | None:
    """Compare the presented token's SHA-256 with every configured hash in constant time."""
    digest = hashlib.sha256(presented.encode("utf-8")).hexdigest()
    found = None
    for t in tokens:
        if hmac.compare_digest(t.token_sha256.lower(), digest):
            found = t
    return found
