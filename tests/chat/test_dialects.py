"""Per-service text extraction and reply shapes (pure; no sockets)."""

from __future__ import annotations

import json

import pytest

from guard.chat import dialects
from guard.chat.dialects import HeldContext, dialect_for, teams_variant, walk_strings
from guard.chat.payload import PayloadError, parse_body

REASON = {
    "action": "block",
    "audience": "external",
    "counts": {"API_KEY": 1},
    "rows": ["external-credential"],
    "explanation": "Refused: found 1 x API_KEY.",
    "types": ["API_KEY"],
}


def texts(fmt: str, payload: object, upstream: str = "https://x.test/hook") -> list[str]:
    return dialect_for(fmt, upstream, payload).texts(payload)


def test_slack_reading_order_then_everything_else() -> None:
    payload = {
        "username": "bot-9",
        "text": "top",
        "blocks": [
            {
                "type": "section",
                "block_id": "b1",
                "text": {"type": "mrkdwn", "text": "block text"},
                "fields": [{"type": "plain_text", "text": "field 1"}],
            },
            {
                "type": "rich_text",
                "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": "rich"}]}],
            },
            {"type": "image", "image_url": "https://img.test/a.png", "alt_text": "alt words"},
        ],
        "attachments": [
            {
                "color": "#36a64f",
                "pretext": "pre",
                "text": "att",
                "fallback": "fb",
                "fields": [{"title": "Card", "value": "fv", "short": True}],
            }
        ],
    }
    got = texts("slack", payload)
    assert got[:3] == ["top", "block text", "field 1"]
    assert got.index("rich") < got.index("pre") < got.index("att") < got.index("fb") < got.index("fv")
    assert "alt words" in got and "bot-9" in got and "https://img.test/a.png" in got
    # Structural values are still scanned (a card number in `block_id` must not slip through), last.
    structural = [got.index(v) for v in ("#36a64f", "b1", "section", "mrkdwn")]
    assert min(structural) > max(got.index(v) for v in ("fv", "alt words", "bot-9"))


def test_teams_message_card_and_adaptive_card() -> None:
    card = {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": "s",
        "title": "t",
        "text": "x",
        "themeColor": "0076D7",
        "sections": [{"activityTitle": "a", "facts": [{"name": "n", "value": "fact value"}], "text": "sec"}],
    }
    got = texts("teams", card, "https://org.webhook.office.com/webhookb2/x")
    assert got[:3] == ["t", "s", "x"] and "fact value" in got and "sec" in got
    assert got.index("0076D7") > max(got.index("fact value"), got.index("sec"))  # structural: last
    adaptive = {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "Container",
                            "items": [
                                {"type": "TextBlock", "text": "deep"},
                                {
                                    "type": "ColumnSet",
                                    "columns": [
                                        {
                                            "items": [
                                                {"type": "RichTextBlock", "inlines": [{"text": "inline"}]}
                                            ]
                                        }
                                    ],
                                },
                            ],
                        },
                        {"type": "FactSet", "facts": [{"title": "k", "value": "fv"}]},
                    ],
                    "actions": [{"type": "Action.OpenUrl", "title": "Open", "url": "https://a.test"}],
                },
            }
        ],
    }
    got = texts(
        "teams", adaptive, "https://prod-1.westus.logic.azure.com/workflows/1/triggers/manual/paths/invoke"
    )
    assert got[:4] == ["deep", "inline", "k", "fv"] and "Open" in got
    assert min(got.index("AdaptiveCard"), got.index("1.4")) > got.index("Open")  # structural: last


def test_discord_and_google_chat() -> None:
    got = texts(
        "discord",
        {
            "content": "c",
            "username": "u",
            "embeds": [
                {
                    "title": "t",
                    "description": "d",
                    "fields": [{"name": "n", "value": "v"}],
                    "footer": {"text": "f"},
                    "color": 5814783,
                }
            ],
        },
    )
    assert got[:6] == ["c", "t", "d", "n", "v", "f"] and "u" in got
    got = texts(
        "googlechat",
        {
            "text": "hello",
            "cardsV2": [
                {
                    "cardId": "c1",
                    "card": {
                        "header": {"title": "H"},
                        "sections": [
                            {
                                "widgets": [
                                    {"textParagraph": {"text": "para"}},
                                    {"decoratedText": {"topLabel": "L", "text": "dec"}},
                                ]
                            }
                        ],
                    },
                }
            ],
            "thread": {"threadKey": "k1"},
        },
    )
    assert got[0] == "hello" and {"H", "para", "L", "dec", "k1"} <= set(got)
    assert got.index("c1") > max(got.index(v) for v in ("H", "para", "L", "dec", "k1"))  # structural: last


def test_generic_walks_every_string_number_and_key() -> None:
    got = texts(
        "generic", {"rows": [{"078-05-1120": {"n": 4111111111111111, "ok": True, "none": None}}], "f": 1.5}
    )
    assert "078-05-1120" in got and "4111111111111111" in got and "1.5" in got and "rows" in got
    assert "True" not in got and "None" not in got


def test_walk_is_iterative_for_deep_payloads() -> None:
    deep: object = "leaf"
    for _ in range(5000):
        deep = [deep]
    assert [v for _, v in walk_strings(deep)] == ["leaf"]


@pytest.mark.parametrize(
    ("url", "payload", "name"),
    [
        (
            "https://prod-00.westeurope.logic.azure.com:443/workflows/x/triggers/manual/paths/invoke",
            {},
            "teams_workflows",
        ),
        (
            "https://default.environment.api.powerplatform.com/powerautomate/automations/direct/x",
            {},
            "teams_workflows",
        ),
        (
            "https://org.webhook.office.com/webhookb2/x",
            {"attachments": [{"contentType": "application/vnd.microsoft.card.adaptive"}]},
            "teams",
        ),
        (
            "http://127.0.0.1:1/hook",
            {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive"}]},
            "teams_workflows",
        ),
        ("http://127.0.0.1:1/hook", {"@type": "MessageCard", "text": "x"}, "teams"),
    ],
)
def test_teams_variant(url: str, payload: dict[str, object], name: str) -> None:
    assert teams_variant(url, payload).name == name


@pytest.mark.parametrize(
    ("dialect", "status", "ctype", "check"),
    [
        (dialects.SLACK, 403, "text/plain", lambda b: b == b"action_prohibited"),
        (dialects.MATTERMOST, 403, "application/json", lambda b: json.loads(b)["status_code"] == 403),
        (dialects.DISCORD, 403, "application/json", lambda b: set(json.loads(b)) >= {"message", "code"}),
        (dialects.TEAMS_CONNECTOR, 403, "text/plain", lambda b: b.startswith(b"Refused")),
        (dialects.TEAMS_WORKFLOWS, 403, "application/json", lambda b: json.loads(b)["error"]["message"]),
        (
            dialects.GOOGLE_CHAT,
            403,
            "application/json",
            lambda b: json.loads(b)["error"]["status"] == "PERMISSION_DENIED",
        ),
        (dialects.GENERIC, 403, "application/json", lambda b: json.loads(b)["guard"]["types"] == ["API_KEY"]),
    ],
)
def test_refusals_speak_each_dialect(
    dialect: dialects.Dialect, status: int, ctype: str, check: object
) -> None:
    reply = dialect.refusal(REASON)
    assert reply.status == status and (reply.content_type or "").startswith(ctype)
    assert check(reply.body)  # type: ignore[operator]
    assert json.loads(dict(reply.headers)["X-Guard-Reason"])["rows"] == ["external-credential"]


def test_google_held_reply_names_space_and_thread() -> None:
    ctx = HeldContext(
        item_id="Q-ABCDE",
        message="held",
        reason=REASON,
        upstream="https://chat.googleapis.com/v1/spaces/SP1/messages?key=k",
        query={"threadkey": "T9"},
        redacted={"text": "masked"},
    )
    body = json.loads(dialects.GOOGLE_CHAT.held(ctx).body)
    assert body["name"] == "spaces/SP1/messages/Q-ABCDE" and body["thread"]["name"] == "spaces/SP1/threads/T9"
    assert body["text"] == "masked"


@pytest.mark.parametrize(
    ("body", "ctype", "kind", "payload"),
    [
        (b'{"text":"a"}', "application/json; charset=utf-8", "json", {"text": "a"}),
        (b"payload=%7B%22text%22%3A%22a%22%7D", "application/x-www-form-urlencoded", "form", {"text": "a"}),
        (b"payload=%7B%22text%22%3A%22a%22%7D", None, "form", {"text": "a"}),
        (b'{"text":"a"}', None, "json", {"text": "a"}),
        (b'["x", 1]', "text/plain", "json", ["x", 1]),
    ],
)
def test_parse_body_shapes(body: bytes, ctype: str | None, kind: str, payload: object) -> None:
    parsed = parse_body(body, ctype)
    assert (parsed.kind, parsed.payload) == (kind, payload)
    assert parse_body(parsed.encode(parsed.payload), ctype).payload == payload


def test_form_needs_exactly_one_payload() -> None:
    with pytest.raises(PayloadError, match="no payload"):
        parse_body(b"text=hi", "application/x-www-form-urlencoded")
    with pytest.raises(PayloadError, match="more than one"):
        parse_body(b"payload=%7B%7D&payload=%7B%7D", "application/x-www-form-urlencoded")


def test_slack_rich_text_section_reads_as_one_line() -> None:
    """Inline elements show on one line: a number split over text, emoji and link elements is
    read whole (issue 11); link URLs and emoji code points are still scanned, after it."""
    section = {
        "type": "rich_text_section",
        "elements": [
            {"type": "text", "text": "pay 12"},
            {"type": "emoji", "name": "three", "unicode": "0033-fe0f-20e3"},
            {"type": "link", "url": "https://l.test/", "text": "45"},
            {"type": "user", "user_id": "U1"},
            {"type": "text", "text": " done"},
        ],
    }
    nested = {"type": "rich_text_list", "elements": [dict(section)]}
    payload = {"blocks": [{"type": "rich_text", "elements": [section, nested]}], "text": "t"}
    got = texts("slack", payload)
    assert got[:3] == ["t", "pay 12:three:45@U1 done", "pay 12:three:45@U1 done"]
    assert "https://l.test/" in got and "0033-fe0f-20e3" in got
    assert "pay 12" not in got and "45" not in got  # each text element read once, in its line


def test_every_field_that_reaches_the_service_is_read() -> None:
    payload = {
        "text": "t",
        "metadata": {"event_type": "e", "event_payload": {"deep": {"n": "m1"}}},
        "props": {"card": "p1"},
        "x_unknown": ["u1", {"k": "u2"}],
    }
    for fmt in ("slack", "mattermost"):
        got = texts(fmt, payload)
        assert {"m1", "p1", "u1", "u2", "e"} <= set(got)


@pytest.mark.parametrize(
    ("tail", "query", "expected"),
    [
        ("", "", []),
        ("a%20b/c", "", ["a b/c"]),
        ("", "note=12+34&k%3Dx=&flag", ["note", "12 34", "k=x", "flag"]),
        ("x", "v=%ZZ", ["x", "v", "%ZZ"]),
    ],
)
def test_request_texts_decode_tail_and_query(tail: str, query: str, expected: list[str]) -> None:
    assert dialects.request_texts(tail, query) == expected
