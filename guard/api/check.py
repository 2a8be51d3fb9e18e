"""POST /api/v1/check: an agent's pre-flight check of a draft, and the served OpenAPI spec.

The reply says what would happen if the draft were sent now (action, audience, policy rows,
explanation, advice), what was found (type, offsets, masked preview, score, detector; never
the value) and a redacted version the agent may send instead. Nothing is stored or sent.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from guard.api.auth import BearerAuth
from guard.api.drafts import Draft, DraftError, parse_draft
from guard.chat.dialects import dialect_for
from guard.chat.payload import PayloadError, loads_strict
from guard.http.app import json_error
from guard.inspection import redact
from guard.model import Action, Finding, Verdict

if TYPE_CHECKING:
    from guard.app import Services
    from guard.inspection import Inspector

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"
_THREAD_THRESHOLD = 64 * 1024


def setup(app: web.Application, services: Services) -> None:
    api = CheckApi(services)
    app.router.add_post("/api/v1/check", api.check)
    app.router.add_get("/api/v1/openapi.yaml", api.openapi)


def draft_types(verdict: Verdict) -> tuple[str, ...]:
    """What the draft masks: a REDACT decision's types, else every type found (the agent is
    shown what it could send instead)."""
    if verdict.action is Action.REDACT:
        return redact.types_to_redact(verdict)
    return tuple(t for t in verdict.counts() if t != "UNSCANNABLE")


def _text_redaction(verdict: Verdict, text: str, types: tuple[str, ...]) -> str:
    """`text` masked at the offsets of its own segment's findings and wherever else a value the
    verdict found (or its pair partner) appears in it."""
    for index, segment in enumerate(verdict.segments):
        if segment.text == text:
            text = redact.redact_text(text, [f for f in verdict.findings if f.segment == index], types)
            break
    return redact.redact_string(text, verdict, types)


def redacted_version(inspector: Inspector, draft: Draft, verdict: Verdict) -> tuple[dict[str, Any], bool]:
    """What the agent could send instead: the draft with every value of the masked types masked,
    and whether its one re-inspection found none of them left."""
    req = draft.request
    if not verdict.findings:
        if draft.route is not None:
            return {"payload": req.payload}, True
        plain = {"subject": req.subject, "text": req.text, "eml": req.eml}
        return {k: v for k, v in plain.items() if v is not None and (k != "subject" or v)}, True
    types = draft_types(verdict)
    out: dict[str, Any] = {}
    if draft.route is not None:
        out["payload"] = redact.redact_payload(req.payload, verdict, types, numbers=True)
        dialect = dialect_for(draft.route.format, draft.route.upstream, out["payload"])
        again = replace(draft.message, text="\n".join(dialect.texts(out["payload"])))
        return out, inspector.recheck(again, types).clean
    if req.subject:
        out["subject"] = _text_redaction(verdict, req.subject, types)
    if req.text is not None:
        out["text"] = _text_redaction(verdict, req.text, types)
    raw = None
    if req.eml is not None:
        raw = redact.redact_message(draft.message.raw or b"", verdict, types, drop_unmaskable=True)
        out["eml"] = raw.decode("utf-8", errors="replace")
    again = replace(draft.message, subject=out.get("subject", req.subject), text=out.get("text"), raw=raw)
    return out, inspector.recheck(again, types).clean


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
        except (PayloadError, DraftError) as exc:
            return json_error(exc.status if isinstance(exc, DraftError) else 400, exc.error, str(exc))
        inspector = self.services.inspector
        try:
            if len(draft.message.text or "") + len(draft.message.raw or b"") > _THREAD_THRESHOLD:
                verdict = await asyncio.to_thread(inspector.inspect, draft.message)
            else:
                verdict = inspector.inspect(draft.message)
            redacted, redacted_clean = redacted_version(inspector, draft, verdict)
        except Exception as exc:
            self.services.metrics.inspection_errors.labels("api").inc()
            self.services.log.error(
                "check failed closed",
                extra={"event": "api_check_failed", "error": type(exc).__name__},
            )
            return json_error(503, "inspection_failed", "the draft could not be inspected; do not send it")
        metrics = self.services.metrics
        metrics.count_verdict("api", verdict.audience.value, verdict.action.value, verdict.counts())
        self.services.record_verdict("api", verdict, message_id=caller.name)
        metrics.inspection_seconds.labels("api").observe(verdict.duration_s)
        self.services.log.info(
            "draft checked",
            extra={
                "event": "api_check",
                "caller": caller.name,
                "draft": draft.message.meta.get("draft"),
                "route": draft.message.route,
                "action": verdict.action.value,
                "audience": verdict.audience.value,
                "counts": verdict.counts(),
                "rows": list(verdict.rows),
                "ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
        return web.json_response(verdict_body(verdict, redacted, redacted_clean))
