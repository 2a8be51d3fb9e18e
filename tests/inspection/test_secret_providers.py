"""The provider pack (rules/credentials-providers.yaml) format by format: a value of each provider's
documented shape is found (bare, in a sentence, assigned to a camelCase name in code), a value one
character off the documented length or a placeholder is not. Every value is generated here."""

from __future__ import annotations

import random
import string
import uuid

import pytest
import yaml

from guard.inspection import Inspector
from guard.inspection.rules import shipped_rules_dir
from guard.inspection.secret_validators import (
    bech32_checksum,
    bech32_hrp_expand,
    bech32_polymod,
    obvious_placeholder,
    provider_token,
)

RNG = random.Random(20261202)
ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
URLSAFE = ALNUM + "-_"
HEX = "0123456789abcdef"
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def rand(n: int, alphabet: str = ALNUM) -> str:
    """Random characters with a digit and, when the alphabet has them, a letter (as generated tokens have)."""
    while True:
        v = "".join(RNG.choice(alphabet) for _ in range(n))
        digit_ok = any(c.isdigit() for c in v) or not set(string.digits) & set(alphabet)
        alpha_ok = any(c.isalpha() for c in v) or not set(string.ascii_letters) & set(alphabet)
        if digit_ok and alpha_ok and not obvious_placeholder(v):
            return v


def guid() -> str:
    return str(uuid.UUID(int=RNG.getrandbits(128), version=4))


def age_key() -> str:
    """A real-shaped age secret key: 32 random bytes in Bech32 with the BIP-173 checksum."""
    data = [RNG.randrange(32) for _ in range(52)]
    hrp = "age-secret-key-"
    poly = bech32_polymod([*bech32_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return (hrp + "1" + "".join(BECH32[d] for d in data + checksum)).upper()


def findings(inspector: Inspector, text: str) -> list[tuple[str, str]]:
    return [(f.detector, text[f.start : f.end]) for f in inspector.scan_text(text) if f.type == "API_KEY"]


GITLAB = [
    "glpat-" + rand(20, URLSAFE),
    "gldt-" + rand(20, URLSAFE),
    "glrt-" + rand(20, URLSAFE),
    "glft-" + rand(20, URLSAFE),
    "glsoat-" + rand(20, URLSAFE),
    "glffct-" + rand(20, URLSAFE),
    "glcbt-" + rand(20, URLSAFE),
    "glcbt-" + rand(2, HEX) + "_" + rand(20, URLSAFE),
    "glimt-" + rand(25, URLSAFE),
    "glptt-" + rand(40, HEX),
    "glagent-" + rand(50, URLSAFE),
    "gloas-" + rand(64, URLSAFE),
    "GR1348941" + rand(20, URLSAFE),
    "glpat-" + rand(40, URLSAFE) + "." + rand(2, LOWER_ALNUM) + rand(7, LOWER_ALNUM),
]

TEAMS_V2 = (
    f"https://contoso.webhook.office.com/webhookb2/{guid()}@{guid()}/IncomingWebhook/{rand(32, HEX)}/{guid()}"
)
TEAMS_WORKFLOW = (
    f"https://{rand(32, HEX)}.0e.environment.api.powerplatform.com:443/powerautomate/automations/direct/"
    f"workflows/{rand(32, HEX)}/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun"
    f"&sv=1.0&sig={rand(43, URLSAFE)}"
)

B64 = ALNUM + "+/"


def azure_key(before: int, signature: str, after: str) -> str:
    """A key in Microsoft's identifiable format: random base64, a fixed signature, random again."""
    return rand(before, B64) + signature + after


# (value, detector): found bare and in a sentence
DISTINCTIVE = [
    (f"https://oapi.dingtalk.com/robot/send?access_token={rand(64, HEX)}", "CHAT_WEBHOOK_ASIA"),
    (f"https://open.feishu.cn/open-apis/bot/v2/hook/{guid()}", "CHAT_WEBHOOK_ASIA"),
    (f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={guid()}", "CHAT_WEBHOOK_ASIA"),
    (f"https://maker.ifttt.com/trigger/door_open/with/key/{rand(22, URLSAFE)}", "AUTOMATION_WEBHOOK"),
    (f"https://hook.eu1.make.com/{rand(32, LOWER_ALNUM)}", "AUTOMATION_WEBHOOK"),
    (f"1000.{rand(32, HEX)}.{rand(32, HEX)}", "ZOHO_OAUTH_TOKEN"),
    (f"0.{guid()}.{rand(30)}:{rand(22, B64)}==", "BITWARDEN_ACCESS_TOKEN"),
    (azure_key(76, "+ASt", rand(5, B64) + "Q=="), "AZURE_IDENTIFIABLE_KEY"),
    (azure_key(76, "ACDb", rand(5, B64) + "w=="), "AZURE_IDENTIFIABLE_KEY"),
    (azure_key(33, "+ASb", "C" + rand(5, B64) + "="), "AZURE_IDENTIFIABLE_KEY"),
    (azure_key(33, "AzCa", "P" + rand(5, B64) + "="), "AZURE_IDENTIFIABLE_KEY"),
    (rand(44, URLSAFE) + "AzFu" + rand(5, URLSAFE) + "A==", "AZURE_IDENTIFIABLE_KEY"),
    (rand(42) + "AzSeB" + rand(5), "AZURE_IDENTIFIABLE_KEY"),
    (azure_key(42, "+ACR", "A" + rand(5, B64)), "AZURE_IDENTIFIABLE_KEY"),
    (rand(52) + "JQQJ99" + RNG.choice(ALNUM) + "C" + rand(16) + "x" + rand(7), "AZURE_IDENTIFIABLE_KEY"),
    *((v, "GITLAB_TOKEN") for v in GITLAB),
    ("xoxb-" + rand(11, string.digits) + "-" + rand(24, ALNUM), "SLACK_TOKEN"),
    ("xoxp-" + "-".join(rand(6, string.digits) for _ in range(3)) + "-" + rand(32, HEX), "SLACK_TOKEN"),
    ("xoxb-" + rand(8, string.digits) + "-" + rand(18, HEX), "SLACK_TOKEN"),
    ("xoxa-2-" + rand(24, ALNUM), "SLACK_TOKEN"),
    ("xoxa-" + rand(12, LOWER_ALNUM), "SLACK_TOKEN"),
    ("sgp_local_" + rand(40, HEX), "SOURCEGRAPH_TOKEN"),
    (rand(9, "123456789") + ":AA" + rand(33, URLSAFE), "TELEGRAM_BOT_TOKEN"),
    ("s-s4t2ud-" + rand(64, HEX), "INTRA42_CLIENT_SECRET"),
    ("s-s4t2af-" + rand(64, HEX), "INTRA42_CLIENT_SECRET"),
    ("FLWSECK_TEST-" + rand(32, HEX) + "-X", "FLUTTERWAVE_KEY"),
    ("FLWPUBK-" + rand(32, HEX) + "-X", "FLUTTERWAVE_KEY"),
    ("FLWSECK_TEST" + rand(12, HEX), "FLUTTERWAVE_KEY"),
    ("FLWSECK_TEST-" + rand(12, HEX), "FLUTTERWAVE_KEY"),
    ("NRAK-" + rand(27, string.ascii_uppercase + string.digits), "NEW_RELIC_KEY"),
    ("NRAK-" + rand(27, LOWER_ALNUM), "NEW_RELIC_KEY"),
    ("NRII-" + rand(32, URLSAFE), "NEW_RELIC_KEY"),
    ("NRJS-" + rand(19, HEX), "NEW_RELIC_KEY"),
    ("dt0c01." + rand(24, string.ascii_uppercase + string.digits) + "." + rand(64, ALNUM), "DYNATRACE_TOKEN"),
    ("sk.eyJ" + rand(60, URLSAFE) + "." + rand(22, URLSAFE), "MAPBOX_SECRET_TOKEN"),
    ("pk." + rand(60, LOWER_ALNUM) + "." + rand(22, LOWER_ALNUM), "MAPBOX_SECRET_TOKEN"),
    ("pypi-AgEIcHlwaS5vcmc" + rand(120, URLSAFE), "PYPI_TOKEN"),
    ("pubkey-" + rand(32, HEX), "MAILGUN_API_KEY"),
    ("key-" + rand(32, HEX), "MAILGUN_API_KEY"),
    ("test_" + rand(35, HEX), "LOB_API_KEY"),
    ("live_pub_" + rand(31, HEX), "LOB_API_KEY"),
    ("ico-" + rand(32, ALNUM), "INFRACOST_API_KEY"),
    ("cio" + rand(32, ALNUM), "CRATES_IO_TOKEN"),
    ("mlsn." + rand(64, ALNUM), "MAILERSEND_API_TOKEN"),
    ("ck_" + rand(40, HEX), "WOOCOMMERCE_API_KEY"),
    ("cs_" + rand(40, HEX), "WOOCOMMERCE_API_KEY"),
    (
        "pk_" + rand(8, string.digits) + "_" + rand(32, string.ascii_uppercase + string.digits),
        "CLICKUP_TOKEN",
    ),
    (rand(6) + "_" + rand(29) + "_mmk", "MAXMIND_LICENSE_KEY"),
    ("phx_" + rand(43, ALNUM), "POSTHOG_PERSONAL_API_KEY"),
    (age_key(), "AGE_SECRET_KEY_VERIFIED"),
    (TEAMS_V2, "MICROSOFT_TEAMS_WEBHOOK"),
    (TEAMS_WORKFLOW, "MICROSOFT_TEAMS_WEBHOOK"),
]


@pytest.mark.parametrize(("value", "detector"), DISTINCTIVE)
@pytest.mark.parametrize("template", ["{v}", "Hi, the key for the new box is {v} - keep it safe."])
def test_a_documented_format_is_found(inspector: Inspector, template: str, value: str, detector: str) -> None:
    text = template.format(v=value)
    found = findings(inspector, text)
    assert detector in {d for d, _ in found}, found
    assert any(v in value or value in v for _, v in found), found


# (text, detector): weak formats found only next to their provider's name, as people write it in code
CUED = [
    (f"telegramToken = '{rand(5, '123456789')}:A{rand(34, URLSAFE)}'", "TELEGRAM_BOT_TOKEN_CUED"),
    (f"airtableToken = {rand(17, LOWER_ALNUM)}", "AIRTABLE_API_KEY_LEGACY"),
    (f'const sumoAccessKey = "{rand(64, ALNUM)}";', "SUMOLOGIC_ACCESS_KEY"),
    (f'String kucoinToken = "{rand(24, HEX)}";', "KUCOIN_API_KEY"),
    (f"sendbirdApiToken: {rand(40, HEX)}", "SENDBIRD_TOKEN"),
    (f"the sendbird app id is {guid().upper()}", "SENDBIRD_TOKEN"),
    (f"merakiApiKey = {rand(40, HEX)}", "MERAKI_API_KEY"),
    (f"X-RapidAPI-Key: {rand(50, URLSAFE)}", "RAPIDAPI_KEY"),
    (f"LINODE_TOKEN={rand(64, HEX)}", "LINODE_TOKEN"),
    (f"HCLOUD_TOKEN={rand(64, ALNUM)}", "HETZNER_CLOUD_TOKEN"),
    (f"SCW_SECRET_KEY={guid()}", "SCALEWAY_SECRET_KEY"),
    (f"the sidekiq credentials are {rand(8, HEX)}:{rand(8, HEX)}", "CONTRIBSYS_LICENSE_CUED"),
    (f'BUNDLE_GEMS__CONTRIBSYS__COMToken = "{rand(8, HEX)}:{rand(8, HEX)}"', "CONTRIBSYS_LICENSE"),
    (f"gitlabCookie = _gitlab_session={rand(32, LOWER_ALNUM)}", "GITLAB_SESSION_COOKIE"),
    (f"sourcegraph: {rand(40, HEX + 'ABCDEF')}", "SOURCEGRAPH_TOKEN_LEGACY"),
    (f"const pipedriveApiToken = '{rand(40, HEX)}';", "PIPEDRIVE_API_TOKEN"),
    (f"adafruitIoKey = {rand(32, LOWER_ALNUM + '-')}", "ADAFRUIT_IO_KEY_LEGACY"),
    (f"the linear client secret is {rand(32, HEX)}", "LINEAR_CLIENT_SECRET"),
]


@pytest.mark.parametrize(("text", "detector"), CUED)
def test_a_weak_format_is_found_next_to_its_provider(inspector: Inspector, text: str, detector: str) -> None:
    assert detector in {d for d, _ in findings(inspector, text)}, findings(inspector, text)


NOT_FOUND = [
    # one character off the documented length
    "glimt-" + rand(23, URLSAFE),
    "glpat-" + rand(19, ALNUM),
    "pypi-AgEIcHlwaS5vcmc" + rand(69, ALNUM),
    "dt0c01." + rand(23, ALNUM) + "." + rand(64, ALNUM),
    # a four-digit bot id is no Telegram bot, a 17-digit one neither
    f"{rand(4, '123456789')}:A{rand(34, URLSAFE)}",
    # placeholders and documentation examples, whatever the prefix
    "AGE-SECRET-KEY-1" + "Q" * 58,
    "glpat-xxxxxxxxxxxxxxxxxxxx",
    "glpat-your_token_goes_here0",
    "gloas-" + ("checking_the_64_length_" + "a" * 9) * 2,
    "xoxe.xoxp-1-RANDOMSTRINGHERE",
    "NRAK-EXAMPLEEXAMPLEEXAMPLEEXAMP",
    "sk.eyJ1IjoiZXhhbXBsZSJ9.EXAMPLEEXAMPLEEXAMPLEXX",
    # a hash in a file name is not an Infracost key
    f"background: url(/assets/media/video_box.ico-{rand(32, HEX)}.png)",
    # a commit in a Bitbucket URL is not a Bitbucket secret
    f"fixed in https://bitbucket.org/team/repo/commits/{rand(40, HEX)}#comment-12",
    # an Azure signature inside a longer base64 run is not a key of that service
    "MIIB" + rand(40, B64) + "+ASb" + "C" + rand(5, B64) + "=",
    # a version number is not a Zoho token, a webhook URL with a placeholder is not a secret
    "release 1000.2 of the driver",
    "https://oapi.dingtalk.com/robot/send?access_token=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    # a generic header name is no provider's cue: the pack does not call this value Sendbird's
    f"Api-Token: {rand(40, HEX)}",
    # weak formats with no cue
    rand(64, HEX),
    f"{rand(8, HEX)}:{rand(8, HEX)}",
]


PACK_IDS = frozenset(
    r["id"]
    for r in yaml.safe_load((shipped_rules_dir() / "credentials-providers.yaml").read_text(encoding="utf-8"))[
        "detectors"
    ]
)


@pytest.mark.parametrize("text", NOT_FOUND)
def test_near_misses_and_placeholders_are_not_reported(inspector: Inspector, text: str) -> None:
    # the provider pack reports none of them (a generic rule may still weigh a value left alone)
    assert [f for f in findings(inspector, text) if f[0] in PACK_IDS] == []


def test_an_age_key_with_a_broken_checksum_is_reported_lower(inspector: Inspector) -> None:
    key = age_key()
    broken = key[:-1] + ("Q" if key[-1] != "Q" else "P")
    assert bech32_checksum(key) and not bech32_checksum(broken)
    found = findings(inspector, f"key: {broken}")
    assert [d for d, _ in found] == ["AGE_SECRET_KEY"], found
    high = [f.confidence for f in inspector.scan_text(key)]
    low = [f.confidence for f in inspector.scan_text(broken)]
    assert [f.detector for f in inspector.scan_text(key)] == ["AGE_SECRET_KEY_VERIFIED"]
    assert high == ["high"] and low != []


def test_bech32_checksum_follows_bip_173() -> None:
    # the checksum covers the human-readable part: the same data under another prefix fails
    key = age_key()
    assert bech32_checksum(key)
    assert bech32_checksum(key.lower())
    assert not bech32_checksum(key[:4].lower() + key[4:])  # mixed case is refused by BIP-173
    assert not bech32_checksum("AGE-SECRET-KEZ-1" + key[16:])


def test_provider_token_accepts_a_readable_test_token_but_not_a_placeholder() -> None:
    assert provider_token("glcbt-" + "morningcoffee" + rand(7, LOWER_ALNUM))
    assert not provider_token("glpat-" + "x" * 20)
    assert not provider_token("glpat-" + "abcdefghijklmnopqrst")
    assert not provider_token("glpat-replace_me_with_token")
    assert not provider_token("gloas-" + "Ab3_" * 16)


def test_every_weak_record_names_its_cues_and_ids_are_unique() -> None:
    pack = yaml.safe_load((shipped_rules_dir() / "credentials-providers.yaml").read_text(encoding="utf-8"))
    records = pack["detectors"]
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids))
    for r in records:
        assert r.get("category") == "credential" and r.get("description"), r["id"]
        if r.get("require_context"):
            words = r.get("context", {}).get("words", [])
            assert words, f"{r['id']} needs a cue but names none"
            # a cue written as a camelCase name ("airtableToken") is listed in lower case
            assert all(w == w.lower() for w in words), r["id"]
            for w in words:
                if w.isalnum() and len(w) >= 4 and not w.endswith(("key", "token", "secret", "clientid")):
                    assert {w + "token", w + "key", w + "secret"} <= set(words), (r["id"], w)
        else:
            assert r.get("validator"), f"{r['id']} is found anywhere, so it needs a validator"
            # the engine wakes a rule by its literals: a rule found anywhere must name them
            assert all(p.get("literals") for p in r["patterns"]), r["id"]
