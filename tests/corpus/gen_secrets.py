"""A seeded generator of credentials in messages, with placeholders and look-alikes as negatives.

Every token is made here from the provider's documented format (prefix, length, alphabet), with
the built-in checksum computed in this file where the format has one (GitHub and npm: CRC32 of
the random part in base62, the last six characters), so values are well-formed and belong to
nobody. Each positive is written the way people write credentials: alone, inside a sentence,
in an env file, YAML, JSON, a command line, an HTTP header, a connection string; passwords in
prose in seven languages; private key blocks; JWTs; an AWS key id with its secret on the next
line. Negatives are what the guard must leave alone: documentation examples, placeholders,
template and environment references, hashes, fingerprints, UUIDs and commit ids next to "key",
file paths and function names after "key", words after "password".

    python tests/corpus/gen_secrets.py --seed 7 > /tmp/secrets.jsonl
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import string
import sys
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
HEX = "0123456789abcdef"
UPPER_ALNUM = string.ascii_uppercase + string.digits
B64URL = ALNUM + "-_"
B64 = ALNUM + "+/"
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l".upper()


@dataclass(frozen=True)
class Record:
    text: str
    labels: tuple[tuple[str, int, int], ...]  # (type, start, end); empty for a negative
    kind: str  # provider/<name>, generic/<form>, negative/<class>
    form: str = "bare"


@dataclass
class Gen:
    rng: random.Random
    out: list[Record] = field(default_factory=list)

    def rand(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def mixed(self, n: int, alphabet: str = ALNUM) -> str:
        """Random characters that hold at least a digit, a small and a capital letter (when the
        alphabet has them), as every generated key of that length does in practice."""
        while True:
            v = self.rand(alphabet, n)
            need = [set(string.digits), set(string.ascii_lowercase), set(string.ascii_uppercase)]
            if all(not (s & set(alphabet)) or (s & set(v)) for s in need):
                return v

    def pos(self, text: str, value: str, kind: str, form: str) -> None:
        start = text.index(value)
        self.out.append(Record(text, (("API_KEY", start, start + len(value)),), kind, form))

    def weak(self, text: str, value: str, kind: str, form: str) -> None:
        """A value whose shape ids share too: to be reported at low confidence only."""
        start = text.index(value)
        self.out.append(Record(text, (("API_KEY", start, start + len(value)),), kind, form))

    def neg(self, text: str, kind: str) -> None:
        self.out.append(Record(text, (), f"negative/{kind}", "negative"))


def b62(n: int, width: int = 6) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = B62[r] + out
    return out.rjust(width, "0")


def checksummed(g: Gen, prefix: str) -> str:
    """GitHub / npm token: prefix + 30 random base62 + base62(CRC32 of those 30), 6 characters."""
    body = g.rand(B62, 30)
    return prefix + body + b62(zlib.crc32(body.encode()) & 0xFFFFFFFF)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt(g: Gen) -> str:
    header = b64url(json.dumps({"alg": g.rng.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}).encode())
    claims = {"sub": str(g.rng.randrange(10**6, 10**9)), "iat": g.rng.randrange(1_600_000_000, 1_800_000_000)}
    payload = b64url(json.dumps(claims).encode())
    return f"{header}.{payload}.{b64url(g.rng.randbytes(32))}"


def pem(g: Gen, kind: str) -> str:
    body = base64.b64encode(g.rng.randbytes(g.rng.choice([120, 300, 600]))).decode()
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {kind}-----\n{lines}\n-----END {kind}-----"


# Provider token makers: documented prefix + alphabet + length (see rules/credentials-providers.yaml).
Maker = Callable[[Gen], str]
PROVIDERS: dict[str, Maker] = {
    "github_pat": lambda g: checksummed(g, "ghp_"),
    "github_oauth": lambda g: checksummed(g, "gho_"),
    "github_app": lambda g: checksummed(g, "ghs_"),
    "github_fine_grained": lambda g: "github_pat_" + g.mixed(22) + "_" + g.mixed(59),
    "npm": lambda g: checksummed(g, "npm_"),
    "gitlab_pat": lambda g: "glpat-" + g.mixed(20, B64URL),
    "gitlab_runner": lambda g: "glrt-" + g.mixed(20, B64URL),
    "pypi": lambda g: "pypi-AgEIcHlwaS5vcmc" + g.mixed(140, B64URL),
    "slack_bot": lambda g: f"xoxb-{g.rand(string.digits, 12)}-{g.rand(string.digits, 13)}-{g.mixed(24)}",
    "slack_user": lambda g: (
        f"xoxp-{g.rand(string.digits, 12)}-{g.rand(string.digits, 12)}-"
        f"{g.rand(string.digits, 13)}-{g.rand(HEX, 32)}"
    ),
    "slack_app": lambda g: f"xapp-1-A{g.rand(UPPER_ALNUM, 10)}-{g.rand(string.digits, 13)}-{g.rand(HEX, 64)}",
    "slack_webhook": lambda g: (
        f"https://hooks.slack.com/services/T{g.rand(UPPER_ALNUM, 8)}/B{g.rand(UPPER_ALNUM, 10)}/{g.mixed(24)}"
    ),
    "stripe_live": lambda g: "sk_live_" + g.mixed(99),
    "stripe_restricted": lambda g: "rk_live_" + g.mixed(24),
    "stripe_webhook": lambda g: "whsec_" + g.mixed(32),
    "twilio_api_key": lambda g: "SK" + g.rand(HEX, 32),
    "sendgrid": lambda g: "SG." + g.mixed(22, B64URL) + "." + g.mixed(43, B64URL),
    "shopify_admin": lambda g: "shpat_" + g.rand(HEX, 32),
    "shopify_secret": lambda g: "shpss_" + g.rand(HEX, 32),
    "digitalocean": lambda g: "dop_v1_" + g.rand(HEX, 64),
    "doppler": lambda g: "dp.pt." + g.mixed(43),
    "atlassian": lambda g: "ATATT3xFfGF0" + g.mixed(170, B64URL) + "=" + g.rand(HEX.upper(), 8),
    "azure_storage": lambda g: "AccountKey=" + base64.b64encode(g.rng.randbytes(64)).decode(),
    "azure_ad_secret": lambda g: g.mixed(3) + str(g.rng.randrange(10)) + "Q~" + g.mixed(34, ALNUM + "_~.-"),
    "google_api": lambda g: "AIza" + g.mixed(35, B64URL),
    "google_oauth_secret": lambda g: "GOCSPX-" + g.mixed(28, B64URL),
    "openai_project": lambda g: "sk-proj-" + g.mixed(156, B64URL),
    "openai_legacy": lambda g: "sk-" + g.mixed(20) + "T3BlbkFJ" + g.mixed(20),
    "anthropic": lambda g: "sk-ant-api03-" + g.mixed(93, B64URL) + "AA",
    "huggingface": lambda g: "hf_" + g.mixed(34, string.ascii_letters),
    "vault_service": lambda g: "hvs." + g.mixed(90, B64URL),
    "vault_batch": lambda g: "hvb." + g.mixed(120, B64URL),
    "terraform": lambda g: g.mixed(14) + ".atlasv1." + g.mixed(67, B64URL),
    "databricks": lambda g: "dapi" + g.rand(HEX, 32),
    "grafana_cloud": lambda g: "glc_" + g.mixed(120, B64),
    "grafana_sa": lambda g: "glsa_" + g.mixed(32) + "_" + g.rand(HEX, 8),
    "new_relic_user": lambda g: "NRAK-" + g.mixed(27, UPPER_ALNUM),
    "postman": lambda g: "PMAK-" + g.rand(HEX, 24) + "-" + g.rand(HEX, 34),
    "linear": lambda g: "lin_api_" + g.mixed(40),
    "age": lambda g: "AGE-SECRET-KEY-1" + g.rand(BECH32, 58),
    "aws_access_key_id": lambda g: "AKIA" + g.mixed(16, string.ascii_uppercase + "234567"),
    "mailgun": lambda g: "key-" + g.rand(HEX, 32),
    "mailchimp": lambda g: g.rand(HEX, 32) + "-us" + str(g.rng.randrange(1, 21)),
    "telegram": lambda g: str(g.rng.randrange(10**8, 10**10)) + ":AA" + g.mixed(33, B64URL),
    "square": lambda g: "EAAA" + g.mixed(60, B64URL),
    "shippo": lambda g: "shippo_live_" + g.rand(HEX, 40),
    "easypost": lambda g: "EZAK" + g.mixed(54),
    "dynatrace": lambda g: "dt0c01." + g.mixed(24, UPPER_ALNUM) + "." + g.mixed(64, UPPER_ALNUM),
    "pulumi": lambda g: "pul-" + g.rand(HEX, 40),
    "planetscale": lambda g: "pscale_tkn_" + g.mixed(43, B64URL),
    "flyio": lambda g: "fo1_" + g.mixed(43, B64URL),
    "sentry_user": lambda g: "sntryu_" + g.rand(HEX, 64),
    "sourcegraph": lambda g: "sgp_" + g.rand(HEX, 16) + "_" + g.rand(HEX, 40),
    "onepassword_sa": lambda g: "ops_eyJ" + g.mixed(300, B64),
    "openshift": lambda g: "sha256~" + g.mixed(43, B64URL),
    "heroku_v2": lambda g: "HRKU-AA" + g.mixed(58, B64URL),
    "jfrog": lambda g: "AKCp" + g.mixed(69),
    "harness": lambda g: f"pat.{g.mixed(22, B64URL)}.{g.mixed(24)}.{g.mixed(20)}",
    "clojars": lambda g: "CLOJARS_" + g.rand(LOWER_ALNUM, 60),
    "docker_hub": lambda g: "dckr_pat_" + g.mixed(27, B64URL),
    "rubygems": lambda g: "rubygems_" + g.rand(HEX, 48),
    "buildkite": lambda g: "bkua_" + g.rand(HEX, 40),
    "circleci": lambda g: "CCIPAT_" + g.mixed(22) + "_" + g.rand(HEX, 40),
    "sonarqube": lambda g: "squ_" + g.rand(HEX, 40),
    "supabase": lambda g: "sbp_" + g.rand(HEX, 40),
    "notion": lambda g: "ntn_" + g.rand(string.digits, 11) + g.mixed(35),
    "airtable": lambda g: "pat" + g.mixed(14) + "." + g.rand(HEX, 64),
    "figma": lambda g: "figd_" + g.mixed(40, B64URL),
    "typeform": lambda g: "tfp_" + g.mixed(59, B64URL),
    "readme": lambda g: "rdme_" + g.rand(LOWER_ALNUM, 70),
    "replicate": lambda g: "r8_" + g.mixed(37),
    "groq": lambda g: "gsk_" + g.mixed(52),
    "perplexity": lambda g: "pplx-" + g.mixed(48),
    "xai": lambda g: "xai-" + g.mixed(80),
    "langsmith": lambda g: "lsv2_pt_" + g.rand(HEX, 32) + "_" + g.rand(HEX, 10),
    "brevo": lambda g: "xkeysib-" + g.rand(HEX, 64) + "-" + g.mixed(16),
    "tailscale": lambda g: "tskey-auth-" + g.mixed(17) + "-" + g.mixed(33),
    "frameio": lambda g: "fio-u-" + g.mixed(64, B64URL),
    "mapbox_secret": lambda g: "sk.eyJ1Ijoi" + g.mixed(40, B64URL) + "." + g.mixed(22, B64URL),
    "duffel": lambda g: "duffel_live_" + g.mixed(43, B64URL),
    "prefect": lambda g: "pnu_" + g.mixed(36),
    "render": lambda g: "rnd_" + g.mixed(32),
    "scalingo": lambda g: "tk-us-" + g.mixed(48, B64URL),
    "infracost": lambda g: "ico-" + g.mixed(32),
    "contentful": lambda g: "CFPAT-" + g.mixed(43, B64URL),
    "adafruit": lambda g: "aio_" + g.mixed(28),
    "adobe": lambda g: "p8e-" + g.mixed(32),
    "clickhouse": lambda g: "4b1d" + g.mixed(38),
    "yandex": lambda g: "AQVN" + g.mixed(36, B64URL),
    "alibaba": lambda g: "LTAI" + g.mixed(20),
    "tencent": lambda g: "AKID" + g.mixed(32),
    "braintree": lambda g: f"access_token$production${g.rand(LOWER_ALNUM, 16)}${g.rand(HEX, 32)}",
    "flutterwave": lambda g: "FLWSECK-" + g.rand("abcdefgh0123456789", 32) + "-X",
    "plaid": lambda g: "access-production-" + str(uuid.UUID(bytes=g.rng.randbytes(16), version=4)),
    "discord_webhook": lambda g: (
        f"https://discord.com/api/webhooks/{g.rand(string.digits, 18)}/{g.mixed(68, B64URL)}"
    ),
    "teams_webhook": lambda g: (
        "https://acme.webhook.office.com/webhookb2/"
        + "@".join(str(uuid.UUID(bytes=g.rng.randbytes(16), version=4)) for _ in range(2))
        + f"/IncomingWebhook/{g.rand(HEX, 32)}/{uuid.UUID(bytes=g.rng.randbytes(16), version=4)}"
    ),
}

# Weak formats: only with the provider's name nearby (the rule says so); (cue, maker).
CUED: dict[str, tuple[str, Maker]] = {
    "heroku_uuid": ("HEROKU_API_KEY", lambda g: str(uuid.UUID(bytes=g.rng.randbytes(16), version=4))),
    "datadog": ("DD_API_KEY", lambda g: g.rand(HEX, 32)),
    "twilio_auth": ("twilio auth token", lambda g: g.rand(HEX, 32)),
    "algolia": ("algolia admin key", lambda g: g.rand(HEX, 32)),
    "okta": ("okta api token", lambda g: "00" + g.mixed(40, B64URL)),
    "cloudflare": ("CLOUDFLARE_API_TOKEN", lambda g: g.mixed(40, B64URL)),
    "sentry_legacy": ("sentry auth token", lambda g: g.rand(HEX, 64)),
    "mailgun_2021": ("mailgun key", lambda g: f"{g.rand(HEX, 32)}-{g.rand(HEX, 8)}-{g.rand(HEX, 8)}"),
}

SENTENCES = (
    "Here is the key we use in prod: {v}",
    "Hey, can you try with this token? {v}",
    "Use {v} as the API key in the config.",
    "the token for the staging account is {v} - please don't share it",
    "FYI, the access key is {v}",
    "Can you rotate this one? {v} leaked in the build log.",
)
CONFIGS = (
    "API_TOKEN={v}",
    "export SERVICE_SECRET={v}",
    'api_key: "{v}"',
    '{{"client_secret": "{v}", "client_id": "app-7"}}',
    "token = '{v}'",
    "Authorization: Bearer {v}",
    "curl -H 'Authorization: Bearer {v}' https://api.internal/v1/items",
    "  secret_key: {v}",
    "<apiKey>{v}</apiKey>",
    "--token={v}",
)


def password(g: Gen) -> str:
    """A password as people choose them: words, digits and a symbol, or random characters."""
    words = ["Summer", "Falcon", "river", "Orange", "tiger", "Maple", "castle", "Lemon"]
    if g.rng.random() < 0.5:
        return g.rng.choice(words) + str(g.rng.randrange(10, 9999)) + g.rng.choice("!#$%&*?@")
    return g.mixed(g.rng.randrange(10, 20), ALNUM + "!#%&*+-=?@^_")


PROSE_PASSWORDS = (
    "the password for the portal is {v}",
    "Your temporary password: {v}",
    "das Passwort ist {v}",
    "Das Kennwort für den Server lautet {v}",
    "le mot de passe est {v}",
    "la contraseña es {v}",
    "la password è {v}",
    "a senha é {v}",
    "het wachtwoord is {v}",
    "wifi password - {v}",
)
ASSIGNED_PASSWORDS = (
    "DB_PASSWORD={v}",
    'password: "{v}"',
    '{{"user": "ann", "password": "{v}"}}',
    "Server=db01;Database=crm;User Id=app;Password={v};",
    "mysql -u root -p{v} crm",
    "sshpass -p '{v}' ssh deploy@10.0.0.5",
    "curl -u deploy:{v} https://repo.internal/",
    "postgres://app:{v}@db.internal:5432/app",
    "machine api.internal login deploy password {v}",
    "admin_pwd = '{v}'",
)


def positives(g: Gen, per: int) -> None:
    for name, make in PROVIDERS.items():
        for i in range(per):
            v = make(g)
            form = ("bare", "sentence", "config")[i % 3]
            if form == "bare":
                g.pos(v, v, f"provider/{name}", form)
            elif form == "sentence":
                g.pos(g.rng.choice(SENTENCES).format(v=v), v, f"provider/{name}", form)
            else:
                g.pos(g.rng.choice(CONFIGS).format(v=v), v, f"provider/{name}", form)
    for name, (cue, make) in CUED.items():
        for _ in range(per):
            v = make(g)
            g.pos(
                g.rng.choice([f"{cue}={v}", f"{cue}: {v}", f"the {cue} is {v}"]), v, f"cued/{name}", "config"
            )
    for _ in range(per * 3):
        v = password(g)
        g.pos(g.rng.choice(PROSE_PASSWORDS).format(v=v), v, "generic/password_prose", "sentence")
        v = password(g)
        g.pos(g.rng.choice(ASSIGNED_PASSWORDS).format(v=v), v, "generic/password_assigned", "config")
        v = g.mixed(g.rng.randrange(24, 48), ALNUM)
        g.pos(g.rng.choice(CONFIGS).format(v=v), v, "generic/secret_assigned", "config")
        v = g.mixed(g.rng.randrange(24, 48), ALNUM)
        g.pos(g.rng.choice(SENTENCES).format(v=v), v, "generic/secret_sentence", "sentence")
        v = g.mixed(g.rng.randrange(20, 48), ALNUM)
        g.pos(f"Hi,\n\n{v}\n\nthanks", v, "generic/lone_token", "bare")
    for _ in range(per):
        key_id = PROVIDERS["aws_access_key_id"](g)
        secret = g.mixed(40, B64)
        g.pos(f"{key_id}\n{secret}", secret, "generic/aws_pair", "bare")
        g.pos(f"new creds: {secret} (id {key_id})", secret, "generic/aws_pair", "sentence")
        for kind in (
            "RSA PRIVATE KEY",
            "PRIVATE KEY",
            "OPENSSH PRIVATE KEY",
            "EC PRIVATE KEY",
            "ENCRYPTED PRIVATE KEY",
        ):
            block = pem(g, kind)
            g.pos(f"here is the deploy key:\n{block}\n", block, "generic/private_key", "bare")
        block = pem(g, "PGP PRIVATE KEY BLOCK")
        g.pos(block, block, "generic/private_key", "bare")
        token = jwt(g)
        g.pos(f"session cookie {token}", token, "generic/jwt", "sentence")
        creds = base64.b64encode(f"deploy:{password(g)}".encode()).decode()
        g.pos(f"Authorization: Basic {creds}", creds, "generic/basic_auth", "config")


# Names a secret is assigned to in code and config, in the casings people use.
SECRET_NAMES = (
    "acmeToken",
    "AcmeApiKey",
    "ACME_TOKEN",
    "acme_api_key",
    "billing.secret",
    "client_secret",
    "chatBotToken",
    "user_auth",
    "SERVICE__GEMS__COMToken",
    "jwt",
)
# Assignment syntaxes: env, shell, YAML, JSON, Go, Java/C#, JS, Ruby/PHP, comparisons.
ASSIGNMENTS = (
    "{n}={v}",
    "{n} = {v}",
    "{n}: {v}",
    '{n}: "{v}"',
    "{n}: '{v}'",
    '"{n}": "{v}"',
    '{n} := "{v}"',
    "{n} := `{v}`",
    'String {n} = "{v}";',
    'const {n} = "{v}";',
    "'{n}' => '{v}',",
    'if ({n} != "{v}") {{',
    'if ("{v}" === {n}) {{',
    'config.get("{n}", "{v}")',
)
PUNCTUATED = string.ascii_letters + string.digits + "{}()[]$#>-_!*%^&@~"


def punctuated(g: Gen, n: int) -> str:
    """A generated password with punctuation: it may hold braces, "$" and brackets, so it can
    look like a template without being one."""
    while True:
        v = g.rand(string.ascii_letters, 1) + g.rand(PUNCTUATED, n - 2) + g.rand(ALNUM, 1)
        if len({c for c in v if not c.isalnum()}) >= 5:
            return v


def uuid4(g: Gen) -> str:
    return str(uuid.UUID(bytes=g.rng.randbytes(16), version=4))


def one_case(g: Gen, n: int) -> str:
    """Small letters and digits drawn at random (many services issue keys like this)."""
    while True:
        v = g.rand(LOWER_ALNUM, n)
        if sum(c.isdigit() for c in v) >= 3 and sum(c.isalpha() for c in v) >= 6:
            return v


def id_secret(g: Gen) -> str:
    return f"{g.rand(HEX, 8)}:{g.rand(HEX, g.rng.choice([8, 16, 32]))}"


# Values whose shape ids and hashes share too: found after a secret name or a token cue.
SHAPED: dict[str, Maker] = {
    "uuid": uuid4,
    "hex": lambda g: g.rand(HEX, g.rng.choice([24, 32, 40, 64])),
    "one_case": lambda g: one_case(g, g.rng.randrange(16, 64)),
    "digits": lambda g: g.rand("123456789", 1) + g.rand(string.digits, g.rng.randrange(17, 20)),
    "id_secret": id_secret,
    "base64": lambda g: base64.b64encode(g.rng.randbytes(g.rng.choice([24, 33, 48]))).decode(),
}
TOKEN_SENTENCES = (
    "Hey, could you retry with this token? {v}",
    "here's the token our nightly job uses: {v}",
    "The API token for the EU tenant is {v}, rotate it after the demo.",
    "Please paste {v} as the access token in the integration settings.",
    "bearer token = {v}",
    "token für das Staging: {v}",
)
# A key told in other languages (hex and UUIDs after "key" are low confidence, as in English).
FOREIGN_KEY_SENTENCES = (
    "Der API-Schlüssel für das Staging ist {v}.",
    "la clé API du compte de test est {v}",
    "la clave de API es {v}",
    "la chiave API è {v}",
    "a chave de API é {v}",
    "de API-sleutel is {v}",
)
# Cue "key": values of these shapes are masked, not held (low confidence).
KEY_SENTENCES = (
    "the reporting key for the staging account is {v} - please don't forward it",
    "Here is the key we set up last week: {v}",
    "The failing request used the key {v} twice.",
    "Key for the reporting sandbox: {v}",
)
CURL_FORMS = (
    "curl -sS -X POST https://api.internal/v2/jobs \\\n  -H 'Content-Type: application/json' \\\n"
    "  -u {u}:{p}",
    'curl -u "{u}:{p}" https://search.internal:9200/_cat/indices',
    "curl --user {u}:{p} https://repo.internal/artifactory/api/",
    'curl -u ":{p}" https://search.internal:9200',
    "http --auth {u}:{p} GET https://api.internal/me",
)
ARMOUR_BODIES = (
    "this is the old staging key, do not reuse it",
    "(the body got mangled when I pasted it from the vault)",
    "Proc-Type: 4,ENCRYPTED\nkey material removed by the mail client",
    "MIIEpAIBAAKCAQEA3 then the rest was cut off by the chat",
)


def more_positives(g: Gen, per: int) -> None:
    """The generic forms people write beyond the provider formats (issue 10, part 3)."""
    for _ in range(per * 3):
        name = g.rng.choice(SECRET_NAMES)
        form = g.rng.choice(ASSIGNMENTS)
        v = punctuated(g, g.rng.randrange(16, 40))
        g.pos(form.format(n=name, v=v), v, "generic/punctuated_assigned", "config")
        shape = g.rng.choice(sorted(SHAPED))
        v = SHAPED[shape](g)
        g.pos(form.format(n=name, v=v), v, "generic/shaped_assigned", "config")
        v = SHAPED[g.rng.choice(["uuid", "one_case", "digits", "id_secret"])](g)
        g.pos(g.rng.choice(TOKEN_SENTENCES).format(v=v), v, "generic/token_sentence", "sentence")
        v = one_case(g, g.rng.randrange(16, 40)) if g.rng.random() < 0.5 else g.mixed(g.rng.randrange(16, 40))
        g.pos(
            g.rng.choice(FOREIGN_KEY_SENTENCES).format(v=v), v, "generic/key_sentence_languages", "sentence"
        )
        p = password(g) if g.rng.random() < 0.5 else g.mixed(16)
        text = g.rng.choice(CURL_FORMS).format(u=g.rng.choice(["deploy", "ci-bot", "elastic"]), p=p)
        g.pos(text, p, "generic/curl", "config")
    for _ in range(per):
        kind = g.rng.choice(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"])
        body = g.rng.choice(ARMOUR_BODIES)
        end = g.rng.choice(["", f"\n-----END {kind}-----"])
        text = f"see below\n-----BEGIN {kind}-----\n{body}{end}\n"
        g.pos(text, body.splitlines()[-1], "generic/key_armour", "bare")
        token = jwt(g).rsplit(".", 1)[0]
        g.pos(f"the session cookie was {token}", token, "generic/jwt_unsigned", "sentence")
    # Weak shapes: masked at low confidence, never held.
    for _ in range(per * 2):
        shape = g.rng.choice(["uuid", "hex", "one_case", "id_secret"])
        v = SHAPED[shape](g)
        if shape == "hex":
            v = g.rand(HEX, g.rng.choice([32, 40, 64]))
        elif shape == "one_case":  # from 24 characters LONE_TOKEN takes it, at medium
            v = one_case(g, g.rng.randrange(14, 24))
        g.weak(v, v, "weak/lone_message", "bare")
        v = f"{g.rng.choice(['deploy', 'svc.report', 'ops@acme.example'])}:{password(g)}"
        g.weak(f"  {v}\n", v, "weak/lone_pair", "bare")
        v = g.rng.choice([uuid4(g), g.rand(HEX, 32), g.rand(HEX, 40), id_secret(g)])
        g.weak(g.rng.choice(KEY_SENTENCES).format(v=v), v, "weak/key_sentence", "sentence")


def negatives(g: Gen, per: int) -> None:
    fixed = [
        ("doc_example", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE"),
        ("doc_example", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        ("placeholder", "STRIPE_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx"),
        ("placeholder", "SLACK_BOT_TOKEN=xoxb-your-bot-token"),
        ("placeholder", "DATABASE_URL=postgres://user:password@localhost:5432/app"),
        ("placeholder", "Authorization: Bearer <your-token>"),
        ("placeholder", "api_key: ${API_KEY}"),
        ("placeholder", 'token = "{{ token }}"'),
        ("placeholder", "password: changeme"),
        ("placeholder", "password: ********"),
        ("placeholder", "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        ("placeholder", "client_secret = 'abcdefghijklmnopqrstuvwxyz'"),
        ("placeholder", "SECRET_KEY=0123456789abcdef0123456789abcdef"),
        ("placeholder", "api_key = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'"),
        ("env_reference", "password = os.environ['DB_PASSWORD']"),
        ("env_reference", "token: $GITHUB_TOKEN"),
        ("env_reference", "const secret = process.env.CLIENT_SECRET;"),
        ("prose", "update-passwd is single-threaded"),
        ("prose", "Your password is reset; please choose a new one."),
        ("prose", "The password is required and must be at least 12 characters long."),
        ("prose", "The password is incorrect."),
        ("prose", "Forgot your password? Reset it at https://example.com/reset"),
        ("prose", "key = self._cache_key(request)"),
        ("prose", "The key file is /etc/ssl/private/server.key"),
        ("prose", "the key is get_signing_key_for_tenant in auth/keys.py"),
        ("prose", "Use the --password-file option to read it from a file."),
        ("code", "password = getpass.getpass()"),
        ("code", "if password == confirm_password:"),
        ("code", "secret_name: db-credentials"),
    ]
    for kind, text in fixed:
        for _ in range(max(1, per // 4)):
            g.neg(text, kind)
    for _ in range(per):
        fp = g.rand(HEX.upper(), 40)
        spaced = " ".join(fp[i : i + 4] for i in range(0, 40, 4))
        g.neg(f"Release signed with signing key {fp}", "fingerprint")
        g.neg(f"Key fingerprint = {spaced}", "fingerprint")
        g.neg(f"gpg: using RSA key {fp[-16:]}", "fingerprint")
        g.neg(f"fixed in commit {g.rand(HEX, 40)} (key rotation)", "commit")
        g.neg(f"cache key {hashlib.sha256(g.rng.randbytes(8)).hexdigest()}", "hash")
        g.neg(f"Request id: {uuid.UUID(bytes=g.rng.randbytes(16), version=4)}", "uuid")
        g.neg(f"sha256: {hashlib.sha256(g.rng.randbytes(8)).hexdigest()}", "hash")
        g.neg(f"ssh-ed25519 {base64.b64encode(g.rng.randbytes(51)).decode()} ann@laptop", "public_key")
        # near misses: wrong checksum or wrong length for a checksummed / fixed-length format
        good = checksummed(g, "ghp_")
        g.neg(good[:-1] + ("A" if good[-1] != "A" else "B") + " is not it", "github_wrong_checksum")
        g.neg("see ghp_" + g.mixed(20) + " for details", "github_wrong_length")
        g.neg("dop_v1_" + g.rand(HEX, 40), "wrong_length")
        g.neg("AGE-SECRET-KEY-1" + g.rand(BECH32, 30), "wrong_length")
        # hashes on lines of changelogs and logs (not a whole message), fingerprints after "key"
        g.neg(f"Hashes:\n    {g.rand(HEX, 64)}\n    SHA3-256 for sqlite-src.zip", "hash_line")
        g.neg(f"commit {g.rand(HEX, 40)}\nAuthor: Jane Roe <jane@example.org>", "hash_line")
        g.neg(f"  * Add Jane Roe's key {fp}\n    to debian/upstream/signing-key.asc.", "fingerprint")
        g.neg(f"Merged in {g.rand(HEX, 40)}\n\n    follow-up for the X server bug", "hash_line")
        # values that look assigned but are not secrets
        g.neg(f'cache_key = "user:{{user_id}}:{g.rng.choice(["profile", "cart", "prefs"])}"', "format_string")
        g.neg(f'bucket_key: "SalesResults-{g.rng.randrange(1, 9)}.{g.rng.randrange(0, 9)}"', "identifier")
        g.neg(
            f"upload.credentials.url=lb{g.rng.randrange(1, 9)}.api.example.com:{g.rng.randrange(1024, 9999)}",
            "host_port",
        )
        g.neg(f"export OP_SERVICE_ACCOUNT_TOKEN=ops_eyJ{g.mixed(24)}...", "truncated")
        g.neg("secret_key: '${VAULT_PREFIX}:${SECRET_NAME}'", "template")
        g.neg("db_password = '%(db_password)s'", "template")
        g.neg("curl -u <user:password> https://test.example/endpoint", "placeholder")
        stand_in = g.rng.choice(["anything", "...", "<key>", "xxxx"])
        g.neg(f"-----BEGIN PRIVATE KEY-----\n{stand_in}\n-----END PRIVATE KEY-----", "placeholder")
        major, minor, patch = g.rng.randrange(1, 9), g.rng.randrange(0, 30), g.rng.randrange(0, 9)
        g.neg(f"v{major}.{minor}.{patch}-rc{g.rng.randrange(1, 5)}", "version")
        g.neg(g.rng.choice(["single-threaded", "ChainContextSubstFormat3", "python3-pkg-resources"]), "word")


def records(seed: int = 20261201, per: int = 6) -> Iterator[Record]:
    g = Gen(random.Random(seed))
    positives(g, per)
    more_positives(g, per)
    negatives(g, per)
    yield from g.out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--per", type=int, default=6)
    args = ap.parse_args(argv)
    for r in records(args.seed, args.per):
        labels = [{"type": t, "start": s, "end": e} for t, s, e in r.labels]
        print(json.dumps({"text": r.text, "labels": labels, "kind": r.kind, "form": r.form}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
