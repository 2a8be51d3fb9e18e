"""Sessions, TOTP (RFC 6238 vectors), lockout and tokens, with an injected clock."""

from __future__ import annotations

import base64
import hashlib

from guard.config import ApiToken, ReviewSettings, ReviewUser
from guard.review.auth import Authenticator, hash_password, token_lookup, totp, totp_step

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()


class Clock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def make_auth(**review: object) -> tuple[Authenticator, Clock]:
    clock = Clock()
    settings = ReviewSettings(
        users=[
            ReviewUser(
                name="alice",
                password_hash=hash_password("pw-alice-1"),
                role="reviewer",
                totp_secret=RFC_SECRET,
            )
        ],
        **review,
    )
    return Authenticator(settings, b"k" * 32, clock=clock), clock


def test_totp_matches_rfc6238_vectors() -> None:
    # RFC 6238 appendix B (SHA-1): the 8-digit codes end in these 6 digits.
    assert totp(RFC_SECRET, 59) == "287082"
    assert totp(RFC_SECRET, 1111111109) == "081804"
    assert totp(RFC_SECRET, 20000000000) == "353130"
    assert totp_step(RFC_SECRET, "287082", 59 + 30) == 1  # one step of clock skew is accepted
    assert totp_step(RFC_SECRET, "287082", 59 + 90) is None


def test_totp_code_cannot_be_replayed() -> None:
    auth, clock = make_auth()
    code = totp(RFC_SECRET, clock())
    assert auth.check_login("alice", "pw-alice-1", code)[0] is not None
    assert auth.check_login("alice", "pw-alice-1", code) == (None, "invalid")


def test_session_idle_expiry_absolute_cap_revocation_and_forgery() -> None:
    auth, clock = make_auth(session_minutes=30)
    cookie = auth.issue("alice")
    s = auth.session(cookie)
    assert s is not None and s.user == "alice"
    clock.t += 29 * 60
    refreshed = auth.issue("alice", sid=s.sid, issued=s.issued)  # activity slides the idle window
    clock.t += 29 * 60
    assert auth.session(cookie) is None and auth.session(refreshed) is not None
    clock.t += 13 * 3600
    assert auth.session(auth.issue("alice", sid=s.sid, issued=s.issued)) is None  # 12 h cap
    fresh = auth.issue("alice")
    auth.revoke(auth.session(fresh))
    assert auth.session(fresh) is None
    version, payload, mac = auth.issue("alice").split(".")
    forged = base64.urlsafe_b64encode(base64.urlsafe_b64decode(payload + "==").replace(b"alice", b"admin"))
    assert auth.session(f"{version}.{forged.decode().rstrip('=')}.{mac}") is None
    other = Authenticator(auth.settings, b"x" * 32)
    assert other.session(auth.issue("alice")) is None


def test_session_of_a_removed_user_ends() -> None:
    auth, _ = make_auth()
    cookie = auth.issue("alice")
    auth.settings = ReviewSettings(users=[])
    assert auth.session(cookie) is None


def test_lockout_expires_after_the_window() -> None:
    auth, clock = make_auth(lockout_after=2)
    for _ in range(2):
        assert auth.check_login("alice", "wrong", "")[1] == "invalid"
    assert auth.check_login("alice", "pw-alice-1", totp(RFC_SECRET, clock()))[1] == "locked"
    clock.t += 16 * 60
    assert auth.check_login("alice", "pw-alice-1", totp(RFC_SECRET, clock()))[0] is not None


def test_token_lookup_by_sha256() -> None:
    tokens = [ApiToken(name="a", token_sha256=hashlib.sha256(b"secret-a").hexdigest(), role="viewer")]
    assert token_lookup(tokens, "secret-a") is tokens[0]
    assert token_lookup(tokens, "secret-b") is None
