"""WebhookForwarder: POST a body to a configured upstream and hand its reply back unchanged.

One aiohttp `ClientSession` serves every route (connection reuse is most of the speed); it is
created on first use inside the running loop and closed by the composition root
(`guard.services`), which shares it between the chat adapter and the quarantine release.
Replies are not decompressed, so status, body and content type reach the caller byte for byte.
Failures raise `UpstreamUnreachable` (-> 502) or `UpstreamTimeout` (-> 504), whose texts name
the error class only, never the upstream URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import aiohttp
from yarl import URL

from guard.delivery.base import Post, UpstreamReply
from guard.errors import UpstreamTimeout, UpstreamUnreachable

#: Request headers passed on to the upstream; everything else (cookies, auth, X-Guard-*) stays here.
_REQUEST_HEADERS = ("Content-Type", "User-Agent", "Accept", "Accept-Encoding")
#: Reply headers passed back; rate-limit hints matter to client retry logic (Slack, Discord).
_REPLY_HEADERS = ("Content-Type", "Content-Encoding", "Retry-After")
_MAX_REPLY_BYTES = 4 * 1024 * 1024


def join_upstream(upstream: str, tail: str, query: str) -> URL:
    """Configured URL + caller's tail path + caller's query, without re-encoding either."""
    base, _, base_query = upstream.partition("?")
    if tail:
        base = base.rstrip("/") + "/" + tail.lstrip("/")
    q = "&".join(x for x in (base_query, query) if x)
    return URL(base + ("?" + q if q else ""), encoded=True)


class WebhookForwarder:
    """Posts to upstream webhooks over one shared client session."""

    def __init__(self, timeout_s: float, *, limit: int = 256) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.limit = limit
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.limit, limit_per_host=0),
                timeout=self.timeout,
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                raise_for_status=False,
                trust_env=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def describe(self) -> str:
        return "webhook"

    async def post(self, url: URL, body: bytes, headers: Mapping[str, str]) -> UpstreamReply:
        """POST a caller's body with the caller's headers that may pass (`_REQUEST_HEADERS`)."""
        out = tuple((k, headers[k]) for k in _REQUEST_HEADERS if k in headers)
        return await self.deliver(Post(url, body, out))

    async def deliver(self, post: Post) -> UpstreamReply:
        """POST exactly `post.headers` and read the whole reply; raise UpstreamUnreachable or
        UpstreamTimeout when no complete reply came back."""
        try:
            async with self.session().post(
                post.url, data=post.body, headers=dict(post.headers), allow_redirects=False
            ) as resp:
                data = await _read_capped(resp)
                kept = tuple(
                    (k, v)
                    for k, v in resp.headers.items()
                    if k.title() in _REPLY_HEADERS or k.lower().startswith("x-ratelimit-")
                )
                return UpstreamReply(resp.status, resp.reason or "", data, kept)
        except TimeoutError:  # aiohttp's timeout errors subclass both TimeoutError and ClientError
            raise UpstreamTimeout("upstream did not answer in time") from None
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
            raise UpstreamUnreachable(f"upstream unreachable ({type(exc).__name__})") from None


async def _read_capped(resp: aiohttp.ClientResponse) -> bytes:
    """The whole reply body, refusing a runaway upstream instead of buffering it all."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await resp.content.read(65536):
        size += len(chunk)
        if size > _MAX_REPLY_BYTES:
            raise UpstreamUnreachable("upstream reply too large")
        chunks.append(chunk)
    return b"".join(chunks)
