"""POST /api/v1/check: an agent's pre-flight check of a draft, and the served OpenAPI spec.

request -> token -> draft -> OutboundMessage -> actions.inspect -> actions.act(CheckOrigin)
(a dry run: metrics, audit and the log line; the redacted version) -> JSON reply.

The reply says what would happen if the draft were sent now (action, audience, policy rows,
explanation, advice), what was found (type, offsets, masked preview, score, detector; never
the value) and a redacted version the agent may send instead. Nothing is stored or sent.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from guard.actions import CheckOrigin, draft_types
from guard.api.auth import BearerAuth
from guard.api.drafts import parse_draft
from guard.chat.payload import loads_strict
from guard.errors import InspectionError, RequestError
from guard.http.replies import json_error
from guard.model import Finding, Verdict

if TYPE_CHECKING:
    from guard.services import Services

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"


def setup(app: web.Application, services: Services) -> None:
    api = CheckApi(services)
    app.router.add_post("/api/v1/check", api.check)
    app.router.add_get("/api/v1/openapi.yaml", api.openapi)


def _finding(f: Finding, verdict: Verdict) -> dict[str, Any]:
    d = f.as_dict()
    if 0 <= f.segment < len(verdict.segments):
        d["source"] = verdict.segments[f.segment].source
    return d


def verdict_body(verdict: Verdict, redacted: dict[str, Any], redacted_clean: bool = True) -> dict[str, Any]:
    body = verdict.summary()
    body["types"] = sorted(body["counts"])
    body["advice"] = verdict.decision.advice
    body["decisions"] = {
        aud.value: {
            "action": d.action.value,
            "rows": list(d.rows),
            "explanation": d.explanation,
            "advice": d.advice,
        }
        for aud, d in verdict.decisions.items()
    }
    body["findings"] = [_finding(f, verdict) for f in verdict.findings]
    body["segments"] = [
        {"index": i, "source": s.source, "kind": s.kind} for i, s in enumerate(verdict.segments)
    ]
    body["recipients"] = [
        {
            "address": r.address,
            "audience": r.audience.value,
            "domain": r.domain,
            "lookalike_of": r.lookalike_of,
        }
        for r in verdict.recipients
    ]
    body["redacted"] = redacted
    body["redacted_clean"] = redacted_clean
    body["redacted_types"] = list(draft_types(verdict))
    body["duration_ms"] = round(verdict.duration_s * 1000, 3)
    return body


class CheckApi:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.actions = services.actions
        self.auth = BearerAuth(services.settings)
        self._spec: bytes | None = None

    async def openapi(self, request: web.Request) -> web.Response:
        if self._spec is None:
            self._spec = OPENAPI_PATH.read_bytes()
        return web.Response(body=self._spec, content_type="application/yaml", charset="utf-8")

    async def check(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        caller = self.auth.authenticate(request)
        if caller is None:
            resp = json_error(401, "unauthorized", "a valid token is required: Authorization: Bearer TOKEN")
            resp.headers.update(BearerAuth.challenge())
            return resp
        limit = self.services.settings.http.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return json_error(413, "request_entity_too_large", f"request body larger than {limit} bytes")
        try:
            draft = parse_draft(loads_strict(await request.read()), self.services.settings)
        except RequestError as exc:  # PayloadError (not JSON) or DraftError (not a valid draft)
            return json_error(exc.status, exc.error, str(exc))
        message = draft.message
        try:
            verdict = await self.actions.inspect(message, "api")
        except InspectionError:
            return json_error(503, "inspection_failed", "the draft could not be inspected; do not send it")
        outcome = await self.actions.act(verdict, message, CheckOrigin(caller.name, draft, started))
        if outcome.error is not None:
            return json_error(503, "inspection_failed", "the draft could not be inspected; do not send it")
        redacted, clean = outcome.redacted
        return web.json_response(verdict_body(verdict, redacted, clean))
