"""Every byte a chat service shows (or stores) is inspected: markup, metadata, path and query.

Each row hides a sensitive value generated here (a Luhn-valid card number) one way, posts it
through the real chat proxy to a real aiohttp upstream and expects it held (202) or refused
(403) with the type named and nothing forwarded. Each row's clean control has the same shape
without the value and must arrive at the upstream byte for byte. docs/reliability.md
("Every byte a recipient can see") quotes the counts this file prints.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from guard.testing import luhn_complete
from guard.testing_webhook import FakeWebhook
from tests.reliability.conftest import Guard, GuardFactory

UPSTREAM_PATHS = {
    "slack": "/services/T000/B000/XXXX",
    "mattermost": "/hooks/mmkey",
    "discord": "/api/webhooks/1/tok",
    "teams": "/webhookb2/abc@def/IncomingWebhook/1/2",
    "teams_workflows": "/workflows/abc/triggers/manual/paths/invoke",
    "googlechat": "/v1/spaces/AAA/messages",
    "generic": "/ingest",
}


def luhn_card(rng: random.Random, prefix: str = "4", length: int = 16) -> str:
    """A Luhn-valid card number made here (never a real or copied one)."""
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    return luhn_complete(body)


def _card_without_zero() -> str:
    """Parenthesised and full-stop digits have no zero, so every row uses a card without one."""
    rng = random.Random(11)
    while True:
        card = luhn_card(rng)
        if "0" not in card:
            return card


CARD = _card_without_zero()
GROUPS = [CARD[i : i + 4] for i in range(0, 16, 4)]
#: The clean control's "groups": the same shape (digits included), nothing sensitive.
CONTROL = ["order", "12", "of", "3"]

Build = Callable[[list[str]], Any]
Text = Callable[[str], str]


def _none(groups: list[str]) -> str:
    return ""


@dataclass(frozen=True)
class Row:
    cls: str  # the class in docs/reliability.md
    id: str
    service: str
    build: Build  # groups -> payload
    tail: Callable[[list[str]], str] = _none
    query: Callable[[list[str]], str] = _none


def _digits(table: str) -> Text:
    """Each digit 0-9 written with the character at the same index of `table`."""
    return lambda text: text.translate(str.maketrans("0123456789", table))


def _each(fmt: str) -> Text:
    return lambda text: "".join(fmt.format(c) if c.isdigit() else c for c in text)


def _words(words: str, sep: str) -> Text:
    """Digits spelled out (`words` lists zero..nine), joined by `sep`; other text kept."""
    table = words.split()

    def spell(text: str) -> str:
        return " ".join(
            sep.join(table[int(c)] for c in tok) if tok.isdigit() else tok for tok in text.split()
        )

    return spell


def _unicode(id: str, transform: Text, service: str = "slack") -> Row:
    key = {"slack": "text", "discord": "content", "googlechat": "text", "mattermost": "text"}[service]
    return Row("Unicode digits", id, service, lambda g: {key: "card " + transform(" ".join(g))})


EN = "zero one two three four five six seven eight nine"
UNICODE_ROWS = [
    _unicode("combining-underline", _each("{}\u0332")),
    _unicode("combining-stacked", _each("{}\u0336\u0305"), "discord"),
    _unicode("keycap-emoji", _each("{}\ufe0f\u20e3")),
    _unicode("keycap-bare", _each("{}\u20e3"), "mattermost"),
    _unicode("circled", _digits("⓪①②③④⑤⑥⑦⑧⑨")),
    _unicode("parenthesised", _digits("0⑴⑵⑶⑷⑸⑹⑺⑻⑼"), "discord"),
    _unicode("full-stop", _digits("0⒈⒉⒊⒋⒌⒍⒎⒏⒐")),
    _unicode("dingbat-negative", _digits("⓿❶❷❸❹❺❻❼❽❾"), "googlechat"),
    _unicode("dingbat-sans", _digits("🄋➊➋➌➍➎➏➐➑➒")),
    _unicode("superscript", _digits("⁰¹²³⁴⁵⁶⁷⁸⁹")),
    _unicode("subscript", _digits("₀₁₂₃₄₅₆₇₈₉"), "discord"),
    _unicode("math-bold", _digits("".join(chr(0x1D7CE + i) for i in range(10)))),
    _unicode("math-monospace", _digits("".join(chr(0x1D7F6 + i) for i in range(10))), "mattermost"),
    _unicode("braille-blank-separators", lambda t: t.replace(" ", "\u2800")),
    _unicode("hangul-filler-separators", lambda t: t.replace(" ", "\u3164"), "discord"),
    _unicode("spelled-en-spaces", _words(EN, " ")),
    _unicode("spelled-en-dots", _words(EN, "."), "discord"),
    _unicode("spelled-en-slashes", _words(EN, "/")),
    _unicode("spelled-de-dashes", _words("null eins zwei drei vier fünf sechs sieben acht neun", "-")),
    _unicode("spelled-fr", _words("zéro un deux trois quatre cinq six sept huit neuf", " "), "discord"),
    _unicode("spelled-es", _words("cero uno dos tres cuatro cinco seis siete ocho nueve", " ")),
    _unicode("spelled-it", _words("zero uno due tre quattro cinque sei sette otto nove", ", "), "googlechat"),
    _unicode("spelled-pt", _words("zero um dois três quatro cinco seis sete oito nove", " ")),
    _unicode("spelled-nl", _words("nul een twee drie vier vijf zes zeven acht negen", "-"), "mattermost"),
]


def _shortcodes(text: str) -> str:
    """Digits as Slack/Discord emoji shortcodes (`:four::one:` shows as keycaps)."""
    names = EN.split()
    return "".join(f":{names[int(c)]}:" if c.isdigit() else c for c in text)


def _slack_rich(g: list[str]) -> Any:
    names = EN.split()
    elements: list[dict[str, Any]] = [{"type": "text", "text": f"card {g[0]} "}]
    elements += [{"type": "emoji", "name": names[int(c)]} for c in g[1] if c.isdigit()]
    elements += [{"type": "text", "text": g[1]} for _ in [0] if not g[1].isdigit()]
    elements += [
        {"type": "link", "url": "https://x.test/", "text": f" {g[2]} "},
        {"type": "text", "text": g[3]},
    ]
    section = {"type": "rich_text_section", "elements": elements}
    return {"text": "ok", "blocks": [{"type": "rich_text", "elements": [section]}]}


MARKUP_ROWS = [
    Row("Slack mrkdwn", "slack-emphasis", "slack", lambda g: {"text": f"{g[0]} *{g[1]}* {g[2]} ~{g[3]}~"}),
    Row(
        "Slack mrkdwn",
        "slack-italic-code",
        "slack",
        lambda g: {"text": f"_{g[0]}_ `{g[1]}` ```{g[2]}``` {g[3]}"},
    ),
    Row(
        "Slack mrkdwn",
        "slack-link-label-splits",
        "slack",
        lambda g: {"text": f"{g[0][:2]}<https://x.test/|{g[0][2:]}> {g[1]} {g[2]} {g[3]}"},
    ),
    Row(
        "Slack mrkdwn",
        "slack-link-url-hidden",
        "slack",
        lambda g: {"text": f"see <https://x.test/pay?card={''.join(g)}|the payment page>"},
    ),
    Row("Slack mrkdwn", "slack-emoji-shortcodes", "slack", lambda g: {"text": _shortcodes(" ".join(g))}),
    Row("Slack mrkdwn", "slack-rich-text-emoji", "slack", _slack_rich),
    Row(
        "Slack fields",
        "slack-block-option-value",
        "slack",
        lambda g: {
            "text": "pick",
            "blocks": [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "static_select",
                            "options": [{"text": {"type": "plain_text", "text": "a"}, "value": " ".join(g)}],
                        }
                    ],
                }
            ],
        },
    ),
    Row(
        "Slack fields",
        "slack-metadata",
        "slack",
        lambda g: {
            "text": "ok",
            "metadata": {"event_type": "customer_update", "event_payload": {"card": " ".join(g)}},
        },
    ),
    Row(
        "Slack fields", "slack-unknown-field", "slack", lambda g: {"text": "ok", "x_note": {"n": "-".join(g)}}
    ),
    Row(
        "Slack fields",
        "slack-metadata-key",
        "slack",
        lambda g: {
            "text": "ok",
            "metadata": {"event_type": "card_saved", "event_payload": {"-".join(g): True}},
        },
    ),
    Row(
        "Mattermost",
        "mattermost-props-key",
        "mattermost",
        lambda g: {"text": "ok", "props": {" ".join(g): 1}},
    ),
    Row(
        "Slack fields",
        "slack-attachment-field",
        "slack",
        lambda g: {"attachments": [{"fields": [{"title": "card", "value": " ".join(g)}]}]},
    ),
    Row(
        "Discord markdown",
        "discord-spoiler",
        "discord",
        lambda g: {"content": f"||{g[0]} {g[1]}|| {g[2]} {g[3]}"},
    ),
    Row(
        "Discord markdown",
        "discord-masked-link",
        "discord",
        lambda g: {"content": f"{g[0][:2]}[{g[0][2:]}](https://x.test/) {g[1]} {g[2]} {g[3]}"},
    ),
    Row(
        "Discord markdown",
        "discord-emphasis",
        "discord",
        lambda g: {"content": f"**{g[0]}** __{g[1]}__ *{g[2]}* ~~{g[3]}~~"},
    ),
    Row(
        "Discord markdown",
        "discord-embed-field",
        "discord",
        lambda g: {"embeds": [{"title": "t", "fields": [{"name": "card", "value": " ".join(g)}]}]},
    ),
    Row(
        "Teams cards",
        "teams-messagecard-fact",
        "teams",
        lambda g: {
            "@type": "MessageCard",
            "summary": "s",
            "sections": [{"facts": [{"name": "card", "value": " ".join(g)}]}],
        },
    ),
    Row(
        "Teams cards",
        "teams-potential-action",
        "teams",
        lambda g: {
            "@type": "MessageCard",
            "text": "ok",
            "potentialAction": [
                {
                    "@type": "OpenUri",
                    "name": "open",
                    "targets": [{"os": "default", "uri": "https://x.test/pay?card=" + "".join(g)}],
                }
            ],
        },
    ),
    Row(
        "Teams cards",
        "teams-adaptive-input-value",
        "teams_workflows",
        lambda g: {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "type": "AdaptiveCard",
                        "body": [{"type": "Input.Text", "id": "n", "value": " ".join(g)}],
                    },
                }
            ],
        },
    ),
    Row(
        "Teams cards",
        "teams-adaptive-factset",
        "teams_workflows",
        lambda g: {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "type": "AdaptiveCard",
                        "body": [
                            {
                                "type": "FactSet",
                                "facts": [{"title": "card", "value": f"**{g[0]}** {g[1]} {g[2]} {g[3]}"}],
                            }
                        ],
                    },
                }
            ],
        },
    ),
    Row(
        "Mattermost",
        "mattermost-props",
        "mattermost",
        lambda g: {"text": "ok", "props": {"card": " ".join(g)}},
    ),
    Row(
        "Mattermost",
        "mattermost-attachment",
        "mattermost",
        lambda g: {"attachments": [{"text": f"{g[0]} *{g[1]}* {g[2]} {g[3]}"}]},
    ),
    Row(
        "Google Chat",
        "googlechat-cardsv2-widget",
        "googlechat",
        lambda g: {
            "cardsV2": [
                {
                    "cardId": "c",
                    "card": {
                        "sections": [
                            {"widgets": [{"decoratedText": {"topLabel": "card", "text": " ".join(g)}}]}
                        ]
                    },
                }
            ]
        },
    ),
    Row(
        "Google Chat",
        "googlechat-link-label",
        "googlechat",
        lambda g: {"text": f"{g[0]} <https://x.test/|{g[1]}> {g[2]} {g[3]}"},
    ),
]

ROUTE_ROWS: list[Row] = [
    Row(
        "route path and query",
        "path-tail",
        "slack",
        lambda g: {"text": "ok"},
        tail=lambda g: "/" + "".join(g),
    ),
    Row(
        "route path and query",
        "path-tail-spaced",
        "discord",
        lambda g: {"content": "ok"},
        tail=lambda g: "/x/" + "%20".join(g),
    ),
    Row(
        "route path and query",
        "query-value",
        "slack",
        lambda g: {"text": "ok"},
        query=lambda g: "note=" + "+".join(g),
    ),
    Row(
        "route path and query",
        "query-key",
        "mattermost",
        lambda g: {"text": "ok"},
        query=lambda g: "-".join(g) + "=1",
    ),
    Row(
        "route path and query",
        "query-encoded",
        "generic",
        lambda g: {"text": "ok"},
        query=lambda g: "q=" + "".join(f"%{ord(c):02X}" for c in " ".join(g)),
    ),
]


ROWS = MARKUP_ROWS + UNICODE_ROWS + ROUTE_ROWS


@dataclass
class Env:
    guard: Guard
    hooks: dict[str, FakeWebhook]


@pytest.fixture
async def env(start_guard: GuardFactory) -> AsyncIterator[Env]:
    hooks = {name: FakeWebhook(name) for name in UPSTREAM_PATHS}
    for hook in hooks.values():
        await hook.start()
    routes = [
        {
            "name": name,
            "format": "teams" if name == "teams_workflows" else name,
            "audience": "external",
            "upstream": hook.url(UPSTREAM_PATHS[name]),
            "quarantine_reply": "accepted",
        }
        for name, hook in hooks.items()
    ]
    guard = await start_guard(chat={"routes": routes})
    yield Env(guard, hooks)
    for hook in hooks.values():
        await hook.stop()


async def _post(env: Env, row: Row, groups: list[str]) -> tuple[int, str, bytes]:
    body = json.dumps(row.build(groups), ensure_ascii=False).encode()
    url = env.guard.url(f"/hooks/{row.service}{row.tail(groups)}")
    query = row.query(groups)
    target = aiohttp.client.URL(url + (f"?{query}" if query else ""), encoded=True)
    async with (
        aiohttp.ClientSession() as http,
        http.post(target, data=body, headers={"Content-Type": "application/json"}) as resp,
    ):
        reason = resp.headers.get("X-Guard-Reason", "") + await resp.text()
        return resp.status, reason, body


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
async def test_hidden_value_is_held(env: Env, row: Row) -> None:
    status, reason, _ = await _post(env, row, GROUPS)
    hook = env.hooks[row.service]
    caught = status in (202, 403) and "CREDIT_CARD" in reason and not hook.requests
    print(f"\nVISIBLE {row.cls} / {row.id}: {'caught' if caught else 'NOT caught'} ({status})")
    assert caught, f"{row.id}: {status} {reason[:120]}"


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
async def test_clean_control_arrives_unchanged(env: Env, row: Row) -> None:
    status, reason, body = await _post(env, row, CONTROL)
    hook = env.hooks[row.service]
    assert status < 300 and len(hook.requests) == 1, f"{row.id}: {status} {reason[:120]}"
    assert hook.requests[0].body == body
