"""A scripted browser for the review UI (aiohttp client, cookie jar): log in, read tokens, post forms."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = _CSRF.search(html)
    assert m, "no CSRF token in the page"
    return m.group(1)


class ReviewClient:
    def __init__(self, base: str) -> None:
        self.base = base
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def __aenter__(self) -> ReviewClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()

    async def get(self, path: str, **kw: Any) -> tuple[int, str]:
        async with self.session.get(self.base + path, **kw) as r:
            text = await r.text()
            if 'name="csrf"' in text:
                self.csrf = csrf_of(text)
            return r.status, text

    async def login(self, user: str, password: str, code: str = "") -> tuple[int, str]:
        status, page = await self.get("/review/login")
        assert status == 200
        data = {
            "csrf": csrf_of(page),
            "username": user,
            "password": password,
            "code": code,
            "next": "/review/queue",
        }
        async with self.session.post(self.base + "/review/login", data=data) as r:
            text = await r.text()
            if 'name="csrf"' in text:
                self.csrf = csrf_of(text)
            return r.status, text

    async def post(
        self,
        path: str,
        data: dict[str, str] | None = None,
        *,
        csrf: bool = True,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, str]:
        """Returns (status, final URL, body) after following the redirect."""
        form = dict(data or {})
        if csrf:
            form["csrf"] = self.csrf
        async with self.session.post(self.base + path, data=form, headers=headers) as r:
            return r.status, str(r.url), await r.text()
