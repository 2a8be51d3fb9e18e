"""What each chat service sends and what its clients expect back (PROTOCOLS.md §3).

A dialect answers three questions for one service:
  * `texts(payload)`  which strings a person would read, in reading order, followed by every
    other string in the payload (so nothing unread slips through a field we did not list),
    structural values (types, ids, colours) last;
  * `refusal(reason)` how "no" looks to that service's client libraries;
  * `held(ctx)`       how "yes" looks, for routes that hide a quarantine behind the service's
    own success reply.
Replies are plain `Reply` values; routes.py turns them into HTTP responses.

Markup inside a text (Slack mrkdwn `*b*`/`_i_`/`~s~`, code spans, `<url|label>` links, Discord
`||spoilers||` and `[label](url)` links, `:emoji:` shortcodes) is read the way a person sees it
by the second reading of guard/inspection/normalise.py, with offsets back to the field as sent;
the dialect's part is structure: which fields show, in which order, and what is one line
(Slack rich_text sections). Every other string is inspected too, and so are the route's path
tail and query string (`request_texts`): all of it reaches the service.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit

Path = tuple[str | int, ...]

#: Keys whose string values are structure (types, ids, colours, styles), not message text.
STRUCTURAL_KEYS = frozenset(
    {
        "type",
        "@type",
        "@context",
        "$schema",
        "version",
        "contentType",
        "block_id",
        "action_id",
        "style",
        "color",
        "themeColor",
        "mrkdwn",
        "unfurl_links",
        "unfurl_media",
        "response_type",
        "cardId",
        "horizontalAlignment",
        "imageType",
        "imageStyle",
        "size",
        "weight",
        "spacing",
        "layout",
    }
)

#: Slack rich_text containers whose `elements` are inline (one line on screen).
_RICH_SECTIONS = frozenset({"rich_text_section", "rich_text_preformatted", "rich_text_quote"})
#: How each inline element shows: the first of its keys present, formatted.
_INLINE: dict[str, tuple[tuple[str, str], ...]] = {
    "text": (("text", "{}"),),
    "emoji": (("name", ":{}:"),),
    "link": (("text", "{}"), ("url", "{}")),
    "user": (("user_id", "@{}"),),
    "usergroup": (("usergroup_id", "@{}"),),
    "channel": (("channel_id", "#{}"),),
    "broadcast": (("range", "@{}"),),
    "date": (("fallback", "{}"),),
}
_DISCORD_EPOCH_MS = 1420070400000
REASON_HEADER = "X-Guard-Reason"
QUARANTINE_HEADER = "X-Guard-Quarantine-Id"


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP reply as data: status, body bytes, content type and extra headers."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class HeldContext:
    """What a fake success reply may draw on. `redacted` is the masked payload, never the original."""

    item_id: str
    message: str
    reason: Mapping[str, Any]
    upstream: str
    query: Mapping[str, str]  # request query, keys lower-cased
    redacted: Any = None


def _json_reply(status: int, body: Any, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Reply(status, data, "application/json; charset=utf-8", headers)


def _text_reply(status: int, text: str, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return Reply(status, text.encode("utf-8"), "text/plain; charset=utf-8", headers)


def reason_header(reason: Mapping[str, Any]) -> tuple[str, str]:
    """The machine-readable reason as one ASCII header; every dialect can carry it."""
    return (REASON_HEADER, json.dumps(reason, ensure_ascii=True, separators=(",", ":")))


# --------------------------------------------------------------------------------------------
# Walking payloads


def walk_strings(node: Any, *, keys: bool = False) -> Iterator[tuple[Path, str]]:
    """Every string (and number) in a JSON value with its path, depth first, iteratively.

    Numbers are scanned as their decimal text: a card number sent as a JSON number is still
    a card number. With `keys=True` object keys are yielded too (generic JSON may key rows by id).
    """
    stack: list[tuple[Path, Any]] = [((), node)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            yield path, value
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int | float):
            yield path, repr(value) if isinstance(value, float) else str(value)
        elif isinstance(value, dict):
            items = list(value.items())
            for key, child in reversed(items):
                stack.append(((*path, key), child))
            if keys:
                for key in reversed(list(value)):
                    stack.append(((*path, key, "<key>"), key))
        elif isinstance(value, list):
            for i in range(len(value) - 1, -1, -1):
                stack.append(((*path, i), value[i]))


def _get(node: Any, *keys: str | int) -> Any:
    for key in keys:
        if isinstance(key, int):
            if not isinstance(node, list) or key >= len(node):
                return None
            node = node[key]
        else:
            if not isinstance(node, dict):
                return None
            node = node.get(key)
    return node


def _items(node: Any) -> list[Any]:
    return node if isinstance(node, list) else []


class _Collector:
    """Collects primary texts in reading order, then the rest of the payload's strings."""

    def __init__(self, payload: Any) -> None:
        self.payload = payload
        self.seen: set[Path] = set()
        self.out: list[str] = []

    def take(self, path: Path) -> None:
        value = _get(self.payload, *path)
        if isinstance(value, str) and path not in self.seen:
            self.seen.add(path)
            if value:
                self.out.append(value)

    def take_tree(self, path: Path) -> None:
        """Every non-structural string under `path`, in order."""
        for sub, value in walk_strings(_get(self.payload, *path)):
            full = (*path, *sub)
            if full in self.seen or (sub and sub[-1] in STRUCTURAL_KEYS):
                continue
            self.seen.add(full)
            if value:
                self.out.append(value)

    def take_rich_text(self, path: Path) -> None:
        """Slack rich_text: each section's inline elements read as the one line a client shows.

        A number split over text, emoji (`{"type": "emoji", "name": "one"}` shows a keycap 1)
        and link elements is read whole; the inline form of an emoji is its `:shortcode:`, which
        the second reading turns into a digit. Link URLs stay for `rest()`: reachable, not inline.
        """
        stack: list[Path] = [path]
        while stack:
            here = stack.pop()
            node = _get(self.payload, *here)
            if isinstance(node, dict):
                elements = node.get("elements")
                if node.get("type") in _RICH_SECTIONS and isinstance(elements, list):
                    self._inline(here, elements)
                    continue
                children = [(*here, k) for k, v in node.items() if isinstance(v, dict | list)]
            elif isinstance(node, list):
                children = [(*here, i) for i, v in enumerate(node) if isinstance(v, dict | list)]
            else:
                continue
            stack.extend(reversed(children))

    def _inline(self, path: Path, elements: list[Any]) -> None:
        parts: list[str] = []
        for i, el in enumerate(elements):
            if not isinstance(el, dict):
                continue
            for key, fmt in _INLINE.get(str(el.get("type")), ()):
                value = el.get(key)
                if isinstance(value, str) and (*path, "elements", i, key) not in self.seen:
                    self.seen.add((*path, "elements", i, key))
                    parts.append(fmt.format(value))
                    break
        line = "".join(parts)
        if line:
            self.out.append(line)

    def rest(self, *, keys: bool = False) -> list[str]:
        for path, value in walk_strings(self.payload, keys=keys):
            if path in self.seen or (path and path[-1] in STRUCTURAL_KEYS):
                continue
            self.seen.add(path)
            if value:
                self.out.append(value)
        # Structural fields last: the upstream stores whatever they hold, so they are scanned too
        # (a card number in `block_id`, or in a generic payload's `type` field, would leak).
        for path, value in walk_strings(self.payload, keys=keys):
            if path not in self.seen and value:
                self.seen.add(path)
                self.out.append(value)
        return self.out


# --------------------------------------------------------------------------------------------
# Dialects


class Dialect:
    """Generic JSON: every string value (and key) scanned; replies in the guard's own JSON."""

    name = "generic"

    def texts(self, payload: Any) -> list[str]:
        col = _Collector(payload)
        self.primary(col)
        return col.rest(keys=True)  # keys reach the service too (a value used as a key)

    def primary(self, col: _Collector) -> None:
        """Take the fields a reader sees first; subclasses list their service's fields."""

    def refusal(self, reason: Mapping[str, Any]) -> Reply:
        body = {"error": "blocked", "message": reason.get("explanation", ""), "guard": dict(reason)}
        return _json_reply(403, body, (reason_header(reason),))

    def held(self, ctx: HeldContext) -> Reply:
        return accepted_reply(ctx)


def accepted_reply(ctx: HeldContext) -> Reply:
    """202 with the quarantine id: the guard's own answer, the same for every service."""
    body = {"status": "held", "id": ctx.item_id, "message": ctx.message, "guard": dict(ctx.reason)}
    return _json_reply(202, body, ((QUARANTINE_HEADER, ctx.item_id), reason_header(ctx.reason)))


class Slack(Dialect):
    """Slack: `text`, blocks (text objects, rich text elements, fields), attachments."""

    name = "slack"

    def primary(self, col: _Collector) -> None:
        p = col.payload
        col.take(("text",))
        for i, _ in enumerate(_items(_get(p, "blocks"))):
            col.take_rich_text(("blocks", i))
            col.take_tree(("blocks", i))
        for i, att in enumerate(_items(_get(p, "attachments"))):
            for key in ("pretext", "title", "text", "fallback", "footer"):
                col.take(("attachments", i, key))
            for j, _ in enumerate(_items(_get(att, "fields"))):
                col.take(("attachments", i, "fields", j, "title"))
                col.take(("attachments", i, "fields", j, "value"))
            for j, _ in enumerate(_items(_get(att, "blocks"))):
                col.take_rich_text(("attachments", i, "blocks", j))
                col.take_tree(("attachments", i, "blocks", j))

    def refusal(self, reason: Mapping[str, Any]) -> Reply:
        # slack_sdk returns the body as text and callers compare it; keep Slack's own word.
        return _text_reply(403, "action_prohibited", (reason_header(reason),))

    def held(self, ctx: HeldContext) -> Reply:
        return _text_reply(200, "ok", ((QUARANTINE_HEADER, ctx.item_id),))


class Mattermost(Slack):
    """Mattermost speaks Slack's payload; its errors are JSON AppError objects."""

    name = "mattermost"

    def primary(self, col: _Collector) -> None:
        super().primary(col)
        col.take_tree(("props",))

    def refusal(self, reason: Mapping[str, Any]) -> Reply:
        body = {
            "id": "guard.outbound.blocked",
            "message": reason.get("explanation", ""),
            "detailed_error": "",
            "request_id": "",
            "status_code": 403,
            "guard": dict(reason),
        }
        return _json_reply(403, body, (reason_header(reason),))


class Discord(Dialect):
    """Discord: `content`, embeds; 204 or, with `wait` true (any case), 200 + a Message."""

    name = "discord"

    def primary(self, col: _Collector) -> None:
        col.take(("content",))
        for i, emb in enumerate(_items(_get(col.payload, "embeds"))):
            col.take(("embeds", i, "author", "name"))
            col.take(("embeds", i, "title"))
            col.take(("embeds", i, "description"))
            for j, _ in enumerate(_items(_get(emb, "fields"))):
                col.take(("embeds", i, "fields", j, "name"))
                col.take(("embeds", i, "fields", j, "value"))
            col.take(("embeds", i, "footer", "text"))

    def refusal(self, reason: Mapping[str, Any]) -> Reply:
        body = {"message": reason.get("explanation", ""), "code": 50013, "guard": dict(reason)}
        return _json_reply(403, body, (reason_header(reason),))

    def held(self, ctx: HeldContext) -> Reply:
        headers = ((QUARANTINE_HEADER, ctx.item_id),)
        if not wait_requested(ctx.query):
            return Reply(204, b"", None, headers)
        millis = int(time.time() * 1000) - _DISCORD_EPOCH_MS
        snowflake = str(millis << 22 | zlib.crc32(ctx.item_id.encode()) & 0x3FFFFF)
        red = ctx.redacted if isinstance(ctx.redacted, dict) else {}
        message = {
            "id": snowflake,
            "type": 0,
            "channel_id": "0",
            "webhook_id": "0",
            "content": red.get("content", "") if isinstance(red.get("content"), str) else "",
            "embeds": red.get("embeds", []) if isinstance(red.get("embeds"), list) else [],
            "attachments": [],
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "tts": False,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
            "edited_timestamp": None,
            "flags": 0,
            "author": {"id": "0", "username": "guard", "bot": True},
        }
        return _json_reply(200, message, headers)


def wait_requested(query: Mapping[str, str]) -> bool:
    """Discord's `wait` is a boolean; discord-webhook sends `wait=True`."""
    return query.get("wait", "").strip().lower() in {"true", "1", "yes"}


class TeamsConnector(Dialect):
    """Legacy Office 365 connector: MessageCard; success is 200 `1`, errors are text."""

    name = "teams"

    def primary(self, col: _Collector) -> None:
        for key in ("title", "summary", "text"):
            col.take((key,))
        for i, _ in enumerate(_items(_get(col.payload, "sections"))):
            col.take_tree(("sections", i))

    def refusal(self, reason: Mapping[str, Any]) -> Reply:
        # pymsteams raises TeamsWebhookException(response.text): the sentence is what the caller sees.
        return _text_reply(403, str(reason.get("explanation", "blocked by policy")), (reason_header(reason),))

    def held(self, ctx: HeldContext) -> Reply:
        return _text_reply(200, "1", ((QUARANTINE_HEADER, ctx.item_id),))


class TeamsWorkflows(Dialect):
    """Teams Workflows (Power Automate): Adaptive Cards in attachments; success is 202, empty."""

    name = "teams_workflows"

    def primary(self, col: _Collector) -> None:
        for i, _ in enumerate(_items(_get(col.payload, "attachments"))):
            col.take_tree(("attachments", i, "content", "body"))
            col.take_tree(("attachments", i, "content", "actions"))

    def refusal(self, reason: Mapping[str, Any]) -> Reply:
        body = {
            "error": {"code": "OutboundGuardBlocked", "message": reason.get("explanation", "")},
            "guard": dict(reason),
        }
        return _json_reply(403, body, (reason_header(reason),))

    def held(self, ctx: HeldContext) -> Reply:
        return Reply(202, b"", None, ((QUARANTINE_HEADER, ctx.item_id),))


class GoogleChat(Dialect):
    """Google Chat: `text`, cardsV2 (and v1 cards); errors are Google error JSON."""

    name = "googlechat"

    def primary(self, col: _Collector) -> None:
        col.take(("text",))
        col.take_tree(("cardsV2",))
        col.take_tree(("cards",))

    def refusal(self, reason: Mapping[str, Any]) -> Reply:
        metadata = {
            "action": str(reason.get("action", "")),
            "rows": ",".join(reason.get("rows", [])),
            "counts": json.dumps(reason.get("counts", {}), separators=(",", ":")),
        }
        body = {
            "error": {
                "code": 403,
                "message": reason.get("explanation", ""),
                "status": "PERMISSION_DENIED",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "SENSITIVE_DATA_BLOCKED",
                        "domain": "outbound-guard",
                        "metadata": metadata,
                    }
                ],
            },
            "guard": dict(reason),
        }
        return _json_reply(403, body, (reason_header(reason),))

    def held(self, ctx: HeldContext) -> Reply:
        parts = urlsplit(ctx.upstream).path.split("/")
        space = parts[parts.index("spaces") + 1] if "spaces" in parts[:-1] else "guard"
        red = ctx.redacted if isinstance(ctx.redacted, dict) else {}
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        name = f"spaces/{space}/messages/{ctx.item_id}"
        thread_key = ctx.query.get("threadkey", "")
        message = {
            "name": name,
            "sender": {"name": "users/outbound-guard", "displayName": "Outbound Guard", "type": "BOT"},
            "text": red.get("text", "") if isinstance(red.get("text"), str) else "",
            "thread": {"name": f"spaces/{space}/threads/{thread_key or ctx.item_id}"},
            "space": {"name": f"spaces/{space}", "type": "ROOM"},
            "createTime": now,
            "argumentText": "",
        }
        return _json_reply(200, message, ((QUARANTINE_HEADER, ctx.item_id),))


_WORKFLOW_HOSTS = ("logic.azure.com", "powerplatform.com", "powerautomate.com")


def teams_variant(upstream: str, payload: Any) -> Dialect:
    """Workflows or the legacy connector: by upstream URL shape first, then by payload shape."""
    parts = urlsplit(upstream)
    host = (parts.hostname or "").lower()
    if host.endswith(_WORKFLOW_HOSTS) or "/workflows/" in parts.path or "/powerautomate/" in parts.path:
        return TEAMS_WORKFLOWS
    if host.endswith("webhook.office.com") or "/webhookb2/" in parts.path:
        return TEAMS_CONNECTOR
    atts = _get(payload, "attachments")
    if (
        isinstance(payload, dict)
        and "@type" not in payload
        and isinstance(atts, list)
        and any(isinstance(a, dict) and "adaptive" in str(a.get("contentType", "")) for a in atts)
    ):
        return TEAMS_WORKFLOWS
    return TEAMS_CONNECTOR


GENERIC = Dialect()
SLACK = Slack()
MATTERMOST = Mattermost()
DISCORD = Discord()
TEAMS_CONNECTOR = TeamsConnector()
TEAMS_WORKFLOWS = TeamsWorkflows()
GOOGLE_CHAT = GoogleChat()

_BY_FORMAT: dict[str, Dialect] = {
    "generic": GENERIC,
    "slack": SLACK,
    "mattermost": MATTERMOST,
    "discord": DISCORD,
    "googlechat": GOOGLE_CHAT,
}


def dialect_for(fmt: str, upstream: str, payload: Any) -> Dialect:
    """The dialect of a route's configured format (Teams picks its variant)."""
    if fmt == "teams":
        return teams_variant(upstream, payload)
    return _BY_FORMAT.get(fmt, GENERIC)


def lower_query(query_string: str) -> dict[str, str]:
    """Query parameters with lower-cased names (last one wins), for `wait`/`threadKey` lookups."""
    return {k.lower(): v for k, v in parse_qsl(query_string, keep_blank_values=True)}


def request_texts(tail: str, query: str) -> list[str]:
    """The path tail and query string as the upstream will read them (percent-decoded).

    Both are forwarded to the service, so they are content: a card number in
    `/hooks/x/4111...` or `?note=...` reaches it as surely as one in `text`.
    """
    out: list[str] = []
    if tail:
        out.append(unquote(tail, errors="replace"))
    for part in query.split("&") if query else ():
        key, _, value = part.partition("=")
        for piece in (key, value):
            if piece:
                out.append(unquote_plus(piece, errors="replace"))
    return out
