"""Bearer-token authentication for /api/v1.

Tokens are configured as `[[review.api_tokens]]` with the hex SHA-256 of the token, so the
config never holds a usable secret. Every configured digest is compared (constant time, no
early exit) so timing does not tell which token nearly matched.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from aiohttp import web

from guard.config import ApiToken, Settings, split_listen


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class BearerAuth:
    """Answers "who is calling?" for an API request: an ApiToken, or None."""

    #: Stands for the caller when the API is open on loopback (no tokens configured).
    LOOPBACK = ApiToken(name="loopback", token_sha256="-", role="agent")

    def __init__(self, settings: Settings) -> None:
        self.tokens = list(settings.review.api_tokens)
        self._digests = [(t, t.token_sha256.strip().lower().encode("ascii", "replace")) for t in self.tokens]
        self.open_on_loopback = (
            not self.tokens
            and settings.review.check_api_open_on_loopback
            and _is_loopback(split_listen(settings.http.listen)[0])
        )

    def authenticate(self, request: web.Request) -> ApiToken | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            digest = token_sha256(token.strip()).encode("ascii")
            found = None
            for entry, expected in self._digests:
                if hmac.compare_digest(digest, expected) and found is None:
                    found = entry
            return found
        if self.open_on_loopback and _is_loopback(request.remote):
            return self.LOOPBACK
        return None

    @staticmethod
    def challenge() -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="outbound-guard"'}
