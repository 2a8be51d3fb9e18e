"""Real client libraries at the guard, real aiohttp upstreams behind it, all on loopback.

For every service: a clean message arrives upstream byte for byte as the client sent it
(compared with the same call made straight to the upstream); a card number to an external
route never arrives (held, the client sees the 202 + id); an AWS key never arrives and the
client sees the refusal in its own dialect; an internal route lets the card through.
Sync (requests-based) clients run in a worker thread so the guard's loop keeps serving.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import apprise
import pymsteams
import pytest
from chat_env import CARD, CARD_TEXT, CLEAN, KEY_TEXT, UPSTREAM_PATHS, Guard, GuardFactory, service_routes
from discord_webhook import DiscordWebhook
from slack_sdk.webhook import WebhookClient

from guard.testing_webhook import FakeWebhook


@pytest.fixture
async def guard(start_guard: GuardFactory, upstreams: dict[str, FakeWebhook]) -> Guard:
    return await start_guard(service_routes(upstreams))


def _arrived(hook: FakeWebhook, needle: str) -> bool:
    return any(
        needle.encode() in r.body or needle.replace(" ", "+").encode() in r.body for r in hook.requests
    )


# -- Slack ---------------------------------------------------------------------------------------
async def test_slack_sdk(guard: Guard, upstreams: dict[str, FakeWebhook]) -> None:
    hook = upstreams["slack"]
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": CLEAN}}]
    direct = await asyncio.to_thread(
        WebhookClient(hook.url(UPSTREAM_PATHS["slack"])).send, text=CLEAN, blocks=blocks
    )
    via = await asyncio.to_thread(WebhookClient(guard.hook("slack-ext")).send, text=CLEAN, blocks=blocks)
    assert (via.status_code, via.body) == (direct.status_code, direct.body) == (200, "ok")
    assert via.headers["Content-Type"] == direct.headers["Content-Type"]
    assert hook.requests[0].body == hook.requests[1].body
    assert hook.requests[0].content_type == hook.requests[1].content_type
    assert hook.requests[1].path == "/services/T000/B000/XXXX"

    held = await asyncio.to_thread(
        WebhookClient(guard.hook("slack-ext")).send, text="refund", attachments=[{"text": CARD_TEXT}]
    )
    assert held.status_code == 202 and json.loads(held.body)["id"]
    refused = await asyncio.to_thread(WebhookClient(guard.hook("slack-ext")).send, text=KEY_TEXT)
    assert (refused.status_code, refused.body) == (403, "action_prohibited")
    reason = json.loads(refused.headers["X-Guard-Reason"])
    assert reason["action"] == "block" and "API_KEY" in reason["types"]
    assert len(hook.requests) == 2 and not _arrived(hook, CARD)

    inside = await asyncio.to_thread(WebhookClient(guard.hook("slack-int")).send, text=CARD_TEXT)
    assert (inside.status_code, inside.body) == (200, "ok")
    assert _arrived(hook, CARD)


# -- Mattermost (apprise mmost://) and generic JSON (apprise json://) -----------------------------
def _apprise(url: str, body: str) -> bool:
    app = apprise.Apprise()
    assert app.add(url)
    return bool(app.notify(body=body, title="Report"))


APPRISE_IMPORTS = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")


@APPRISE_IMPORTS
async def test_apprise_mattermost(guard: Guard, upstreams: dict[str, FakeWebhook]) -> None:
    hook = upstreams["mattermost"]
    assert await asyncio.to_thread(_apprise, f"mmost://127.0.0.1:{hook.port}/mmkey123", CLEAN)
    assert await asyncio.to_thread(_apprise, f"mmost://127.0.0.1:{guard.http.port}/mattermost-ext", CLEAN)
    assert hook.requests[0].body == hook.requests[1].body
    assert hook.requests[1].path == "/hooks/mmkey123"

    assert not await asyncio.to_thread(
        _apprise, f"mmost://127.0.0.1:{guard.http.port}/mattermost-ext", KEY_TEXT
    )
    # Held: apprise wants Mattermost's 200, so the 202 + id reads as a failure to the sender.
    assert not await asyncio.to_thread(
        _apprise, f"mmost://127.0.0.1:{guard.http.port}/mattermost-ext", CARD_TEXT
    )
    assert len(hook.requests) == 2 and not _arrived(hook, CARD)
    assert await asyncio.to_thread(_apprise, f"mmost://127.0.0.1:{guard.http.port}/mattermost-int", CARD_TEXT)
    assert _arrived(hook, CARD)


@APPRISE_IMPORTS
async def test_apprise_json(guard: Guard, upstreams: dict[str, FakeWebhook]) -> None:
    hook = upstreams["generic"]
    assert await asyncio.to_thread(_apprise, f"json://127.0.0.1:{guard.http.port}/hooks/generic-ext", CLEAN)
    assert hook.requests[0].json()["message"] == CLEAN
    assert hook.requests[0].path == "/ingest"
    assert not await asyncio.to_thread(
        _apprise, f"json://127.0.0.1:{guard.http.port}/hooks/generic-ext", KEY_TEXT
    )
    assert len(hook.requests) == 1
    assert await asyncio.to_thread(
        _apprise, f"json://127.0.0.1:{guard.http.port}/hooks/generic-int", CARD_TEXT
    )
    assert _arrived(hook, CARD)


# -- Discord ---------------------------------------------------------------------------------------
def _discord(url: str, content: str, **kw: Any) -> Any:
    return DiscordWebhook(url=url, content=content, wait=True, **kw).execute()


async def test_discord_webhook(guard: Guard, upstreams: dict[str, FakeWebhook]) -> None:
    hook = upstreams["discord"]
    direct = await asyncio.to_thread(_discord, hook.url(UPSTREAM_PATHS["discord"]), CLEAN)
    via = await asyncio.to_thread(_discord, guard.hook("discord-ext"), CLEAN)
    assert direct.status_code == via.status_code == 200
    assert via.json()["content"] == CLEAN
    assert hook.requests[0].body == hook.requests[1].body
    assert hook.requests[1].query == hook.requests[0].query == "wait=True"  # kept, unchanged case

    refused = await asyncio.to_thread(_discord, guard.hook("discord-ext"), KEY_TEXT)
    assert refused.status_code == 403
    body = refused.json()
    assert body["code"] == 50013 and body["message"] and body["guard"]["action"] == "block"
    held = await asyncio.to_thread(_discord, guard.hook("discord-ext"), CARD_TEXT)
    assert held.status_code == 202 and held.json()["id"]
    assert len(hook.requests) == 2 and not _arrived(hook, CARD)
    inside = await asyncio.to_thread(_discord, guard.hook("discord-int"), CARD_TEXT)
    assert inside.status_code == 200 and _arrived(hook, CARD)


# -- Teams (legacy connector via pymsteams, Workflows via raw aiohttp) -------------------------------
def _teams(url: str, text: str) -> bool:
    card = pymsteams.connectorcard(url)
    card.title("Report")
    card.text(text)
    return bool(card.send())


async def test_pymsteams(guard: Guard, upstreams: dict[str, FakeWebhook]) -> None:
    hook = upstreams["teams"]
    assert await asyncio.to_thread(_teams, hook.url(UPSTREAM_PATHS["teams"]), CLEAN)
    assert await asyncio.to_thread(_teams, guard.hook("teams-ext"), CLEAN)
    assert hook.requests[0].body == hook.requests[1].body

    with pytest.raises(pymsteams.TeamsWebhookException) as refused:
        await asyncio.to_thread(_teams, guard.hook("teams-ext"), KEY_TEXT)
    assert "API" in str(refused.value) or "key" in str(refused.value).lower()
    assert await asyncio.to_thread(_teams, guard.hook("teams-ext"), CARD_TEXT)  # held: 202 counts as sent
    assert len(hook.requests) == 2 and not _arrived(hook, CARD)
    assert await asyncio.to_thread(_teams, guard.hook("teams-int"), CARD_TEXT)
    assert _arrived(hook, CARD)


def _adaptive(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "type": "AdaptiveCard",
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "Container",
                            "items": [
                                {"type": "TextBlock", "text": "Report"},
                                {"type": "FactSet", "facts": [{"title": "Note", "value": text}]},
                            ],
                        }
                    ],
                },
            }
        ],
    }


async def test_teams_workflows_raw(guard: Guard, upstreams: dict[str, FakeWebhook]) -> None:
    hook = upstreams["teams_workflows"]
    async with aiohttp.ClientSession() as http:
        async with http.post(guard.hook("teams_workflows-ext"), json=_adaptive(CLEAN)) as resp:
            assert resp.status == 202 and await resp.read() == b""
        assert hook.requests[0].json() == _adaptive(CLEAN)
        assert hook.requests[0].query == "api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sig=SIG"
        async with http.post(guard.hook("teams_workflows-ext"), json=_adaptive(KEY_TEXT)) as resp:
            assert resp.status == 403
            assert (await resp.json())["error"]["code"] == "OutboundGuardBlocked"
        async with http.post(guard.hook("teams_workflows-ext"), json=_adaptive(CARD_TEXT)) as resp:
            assert resp.status == 202 and (await resp.json())["id"]
        assert len(hook.requests) == 1 and not _arrived(hook, CARD)
        async with http.post(guard.hook("teams_workflows-int"), json=_adaptive(CARD_TEXT)) as resp:
            assert resp.status == 202
        assert _arrived(hook, CARD)


# -- Google Chat (raw aiohttp) ---------------------------------------------------------------------------
def _gchat(text: str) -> dict[str, Any]:
    return {
        "text": "Report",
        "cardsV2": [
            {
                "cardId": "c1",
                "card": {
                    "sections": [
                        {
                            "widgets": [
                                {"textParagraph": {"text": text}},
                                {"decoratedText": {"topLabel": "Note", "text": "see above"}},
                            ]
                        }
                    ]
                },
            }
        ],
    }


async def test_google_chat_raw(guard: Guard, upstreams: dict[str, FakeWebhook]) -> None:
    hook = upstreams["googlechat"]
    headers = {"Content-Type": "application/json; charset=UTF-8"}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            guard.hook("googlechat-ext") + "?threadKey=t1", data=json.dumps(_gchat(CLEAN)), headers=headers
        ) as resp:
            assert resp.status == 200 and (await resp.json())["name"].startswith("spaces/AAA/messages/")
        got = hook.requests[0]
        assert got.json() == _gchat(CLEAN) and got.content_type == headers["Content-Type"]
        assert got.path == "/v1/spaces/AAA/messages" and got.query == "key=KEY&token=TOK&threadKey=t1"
        async with http.post(guard.hook("googlechat-ext"), json=_gchat(KEY_TEXT)) as resp:
            err = (await resp.json())["error"]
            assert resp.status == 403 and (err["code"], err["status"]) == (403, "PERMISSION_DENIED")
        async with http.post(guard.hook("googlechat-ext"), json=_gchat(CARD_TEXT)) as resp:
            assert resp.status == 202
        assert len(hook.requests) == 1 and not _arrived(hook, CARD)
        async with http.post(guard.hook("googlechat-int"), json=_gchat(CARD_TEXT)) as resp:
            assert resp.status == 200
        assert _arrived(hook, CARD)
