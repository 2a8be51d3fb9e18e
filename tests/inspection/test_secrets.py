"""Credential detectors one by one: each documented format, its near misses (wrong checksum,
wrong length) and the placeholders that must stay unreported. Values are generated here."""

from __future__ import annotations

import base64
import json
import random
import string
import zlib

import pytest

from guard.inspection import Inspector
from guard.inspection.secret_validators import crc32_base62, is_placeholder, jwt, password_value

RNG = random.Random(20261201)
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def rand(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    while True:
        v = "".join(RNG.choice(alphabet) for _ in range(n))
        if any(c.isdigit() for c in v) or not set(string.digits) & set(alphabet):
            return v


def b62(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = B62[r] + out
    return out.rjust(6, "0")


def github(prefix: str = "ghp_") -> str:
    body = rand(30, B62)
    return prefix + body + b62(zlib.crc32(body.encode()) & 0xFFFFFFFF)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def findings(inspector: Inspector, text: str) -> list[tuple[str, str, str]]:
    return [
        (f.detector, f.confidence, text[f.start : f.end])
        for f in inspector.scan_text(text)
        if f.type == "API_KEY"
    ]


def test_the_checksum_is_github_s_crc32_in_base62() -> None:
    body = rand(30, B62)
    assert crc32_base62(body) == b62(zlib.crc32(body.encode()) & 0xFFFFFFFF)


GH = github()
GHO = github("gho_")
NPM = github("npm_")
AWS_ID = "AKIA" + rand(16, string.ascii_uppercase + "234567")
AWS_SECRET = rand(40, string.ascii_letters + string.digits + "+/")
JWT = ".".join(
    [
        b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()),
        b64url(json.dumps({"sub": "4711", "iat": 1764547200}).encode()),
        b64url(RNG.randbytes(32)),
    ]
)
HEROKU = f"4{rand(7, '0123456789abcdef')}-1a2b-4c3d-8e9f-{rand(12, '0123456789abcdef')}"
BEARER = rand(40)
PEM_BODY = "\n".join(base64.b64encode(RNG.randbytes(48)).decode() for _ in range(4))

FOUND = [
    # (text, expected detector, the value that must be covered)
    (f"token {GH} for the CI", "GITHUB_TOKEN", GH),
    (f"GITHUB_TOKEN={GHO}", "GITHUB_TOKEN", GHO),
    (f"//registry.npmjs.org/:_authToken={NPM}", "NPM_TOKEN", NPM),
    (f"dop_v1_{rand(64, '0123456789abcdef')}", "DIGITALOCEAN_TOKEN", "dop_v1_"),
    (f"glpat-{rand(20)}", "GITLAB_TOKEN", "glpat-"),
    (f"SG.{rand(22)}.{rand(43)}", "SENDGRID_API_KEY", "SG."),
    (f"shpat_{rand(32, '0123456789abcdef')}", "SHOPIFY_TOKEN", "shpat_"),
    (f"hvs.{rand(90)}", "HASHICORP_VAULT_TOKEN", "hvs."),
    (f"{rand(14)}.atlasv1.{rand(67)}", "TERRAFORM_CLOUD_TOKEN", ".atlasv1."),
    (f"dapi{rand(32, '0123456789abcdef')}", "DATABRICKS_TOKEN", "dapi"),
    (f"NRAK-{rand(27, string.ascii_uppercase + string.digits)}", "NEW_RELIC_KEY", "NRAK-"),
    (f"PMAK-{rand(24, '0123456789abcdef')}-{rand(34, '0123456789abcdef')}", "POSTMAN_API_KEY", "PMAK-"),
    (f"lin_api_{rand(40)}", "LINEAR_API_KEY", "lin_api_"),
    ("AGE-SECRET-KEY-1" + rand(58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"), "AGE_SECRET_KEY", "AGE-SECRET-KEY-1"),
    (f"sk-ant-api03-{rand(93)}AA", "ANTHROPIC_API_KEY", "sk-ant-api03-"),
    (f"sk-{rand(20)}T3BlbkFJ{rand(20)}", "OPENAI_API_KEY", "T3BlbkFJ"),
    (f"hf_{rand(34, string.ascii_letters)}", "HUGGINGFACE_TOKEN", "hf_"),
    (f"dp.pt.{rand(43)}", "DOPPLER_TOKEN", "dp.pt."),
    (f"HEROKU_API_KEY={HEROKU}", "HEROKU_API_KEY_LEGACY", HEROKU),
    (f"{AWS_ID}\n{AWS_SECRET}", "AWS_KEY_PAIR", AWS_SECRET),
    (f"session {JWT}", "JSON_WEB_TOKEN", JWT),
    (
        f"-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY}\n-----END OPENSSH PRIVATE KEY-----",
        "PRIVATE_KEY_BLOCK",
        "BEGIN",
    ),
    ("the password for the portal is Tr0ub4dor&3", "PASSWORD_IN_PROSE", "Tr0ub4dor&3"),
    ("das Passwort ist Sommer2024!", "PASSWORD_IN_PROSE", "Sommer2024!"),
    ("le mot de passe est Soleil#42", "PASSWORD_IN_PROSE", "Soleil#42"),
    ("la contraseña es Playa_2024", "PASSWORD_IN_PROSE", "Playa_2024"),
    ("la password è Mare!2024", "PASSWORD_IN_PROSE", "Mare!2024"),
    ("a senha é Praia#2024", "PASSWORD_IN_PROSE", "Praia#2024"),
    ("het wachtwoord is Fiets!2024", "PASSWORD_IN_PROSE", "Fiets!2024"),
    ("DB_PASSWORD=h7Gq!x92Lm", "PASSWORD_ASSIGNMENT_UNQUOTED", "h7Gq!x92Lm"),
    ('{"password": "h7Gq!x92Lm"}', "PASSWORD_ASSIGNMENT", "h7Gq!x92Lm"),
    ("Server=db;User Id=app;Password=h7Gq!x92Lm;", "PASSWORD_ASSIGNMENT_UNQUOTED", "h7Gq!x92Lm"),
    ("mysql -u root -ph7Gq!x92Lm crm", "CLI_FLAG_SECRET", "h7Gq!x92Lm"),
    ("deploy --password=h7Gq!x92Lm", "", "h7Gq!x92Lm"),
    ("curl -u deploy:h7Gq!x92Lm https://repo.internal/", "CLI_FLAG_SECRET", "h7Gq!x92Lm"),
    ("amqp://app:h7Gq!x92Lm@mq.internal:5672/", "URL_PASSWORD", "h7Gq!x92Lm"),
    (f"Authorization: Bearer {BEARER}", "HTTP_AUTHORIZATION", BEARER),
]


@pytest.mark.parametrize(("text", "detector", "value"), FOUND)
def test_found(inspector: Inspector, text: str, detector: str, value: str) -> None:
    found = findings(inspector, text)
    assert found, f"nothing found in {text!r}"
    if detector:
        assert detector in {d for d, _, _ in found}, found
    covering = [v for _, _, v in found if value in v or v in value]
    assert covering, found


def symbols(n: int) -> str:
    """A generated password with punctuation: letters and many different symbols."""
    return rand(1, string.ascii_lowercase) + rand(n - 2, string.ascii_lowercase + "{}()[]$#>-_!*") + rand(1)


LOWER_ALNUM = string.ascii_lowercase + string.digits
LOWER = rand(20, LOWER_ALNUM)
PREFIXED = f"{rand(5, LOWER_ALNUM)}-{rand(24, LOWER_ALNUM)}"
HEX24 = rand(24, "0123456789abcdef")
NUMERIC = "".join(RNG.choice("123456789") for _ in range(18))
SYMBOLS = symbols(30)
ID_SECRET = f"{rand(8, '0123456789abcdef')}:{rand(8, '0123456789abcdef')}"
USER_AUTH = base64.b64encode(f"svc-report:{rand(16)}".encode()).decode()
MANGLED_JWT = "eyJ" + rand(30, string.ascii_letters + string.digits + "_-") + ".eyJ" + rand(60)
UNSIGNED_JWT = JWT.rsplit(".", 1)[0]
CURL_PW = rand(14) + "!"

FOUND_GENERIC = [
    # a value that merely contains template characters is judged like any value
    (f"api_key = '{SYMBOLS}'", SYMBOLS),
    (f'if (client_secret !== "{SYMBOLS}") {{', SYMBOLS),
    (f"aws_secret_access_key := `{SYMBOLS}`", SYMBOLS),
    # names in camelCase, PascalCase and capitals; values of one case, hex, digits, id:secret
    (f'const ACME_TOKEN = "{LOWER}"', LOWER),
    (f"acmeToken = {HEX24}", HEX24),
    (f'String chatToken = "{NUMERIC}";', NUMERIC),
    (f"ENTERPRISE__GEMS__COMToken = {ID_SECRET}", ID_SECRET),
    (f'"user_auth": "{USER_AUTH}"', USER_AUTH),
    (f"JWT := {MANGLED_JWT}", MANGLED_JWT),
    (f'token = utils.GetEnvOrDefault("api_token", "{LOWER}")', LOWER),
    (f'os.getenv("CLIENT_SECRET", "{BEARER}")', BEARER),
    # curl -u on a continuation line, quoted, a key with an empty password
    (
        f"curl -X POST https://api.internal/v1/items \\\n  -H 'Accept: text/plain' \\\n  -u deploy:{CURL_PW}",
        CURL_PW,
    ),
    (f'curl -u ":{CURL_PW}" https://search.internal:9200', CURL_PW),
    (f'curl --user "{CURL_PW}:" https://search.internal:9200', CURL_PW),
    # a private key header with a body that is not base64, with or without the END line
    ("notes\n-----BEGIN RSA PRIVATE KEY-----\nthe old staging key, do not reuse\n", "staging key"),
    ("-----BEGIN PRIVATE KEY-----\nmangled when pasted from the vault\n-----END PRIVATE KEY-----", "mangled"),
    # a JWT that lost its signature part
    (f"cookie: {UNSIGNED_JWT}", UNSIGNED_JWT),
    # a user:password pair told as the token
    (f"Hey, can you try with this token? elastic:{CURL_PW}", CURL_PW),
    # a one-case key with a prefix or separators, a bearer token on a continuation line
    (f"Use {PREFIXED} as the API key in the config.", PREFIXED),
    (f'curl https://api.internal/v1 -H "Authorization: Bearer \\\n  {BEARER}"', BEARER),
    # a key told in German, French, Spanish, Italian, Portuguese, Dutch
    (f"Der API-Schlüssel ist {LOWER}, bitte nicht weitergeben.", LOWER),
    (f"la clé API est {LOWER}", LOWER),
    (f"la chiave è {LOWER}", LOWER),
    (f"a chave de API é {LOWER}", LOWER),
    (f"de sleutel is {LOWER}", LOWER),
    # a generated token in running text with no cue at all
    (f"Can you rotate this one? {BEARER} leaked in the build log.", BEARER),
]


@pytest.mark.parametrize(("text", "value"), FOUND_GENERIC)
def test_found_generic(inspector: Inspector, text: str, value: str) -> None:
    found = findings(inspector, text)
    assert any(value in v or v in value for _, _, v in found), found
    assert all(c in ("medium", "high") for _, c, _ in found), found


LOW_ONLY = [
    # a whole message that is one value of a shape ids and hashes share: masked, not held
    (str(__import__("uuid").UUID(bytes=RNG.randbytes(16), version=4)), None),
    (rand(32, "0123456789abcdef"), None),
    (rand(64, "0123456789abcdef"), None),
    (LOWER, None),
    (ID_SECRET, None),
    (f"deploy:{rand(12)}#{rand(3)}", None),
    (f"ops@acme.example:{rand(12)}#{rand(3)}", None),
    (f"{rand(8, LOWER_ALNUM)}_{rand(10, LOWER_ALNUM)}", None),
    (rand(64), None),  # mixed case, the length of a base64 line: alone, still a token
    (f"here is the key we use in prod: {''.join(RNG.choice('123456789') for _ in range(32))}", "key"),
    # the same shapes after a key/token cue in a sentence
    (f"the billing key for the staging account is {rand(32, '0123456789abcdef')} - keep it private", "key"),
    ("the key is 3f2b9c1e-8a4d-4e6f-9b2c-7d1e5a3c9f80", "key"),
    (f"The failing request used the key {rand(40, '0123456789abcdef')} again", "key"),
]


@pytest.mark.parametrize(("text", "cue"), LOW_ONLY)
def test_shapes_shared_with_ids_are_low_confidence(inspector: Inspector, text: str, cue: str | None) -> None:
    found = findings(inspector, text)
    assert found, text
    assert all(c == "low" for _, c, _ in found), found


def test_a_low_confidence_credential_is_masked_not_held(inspector: Inspector) -> None:
    from guard.model import Action, Audience, Channel, OutboundMessage

    token = rand(32, "0123456789abcdef")
    msg = OutboundMessage(channel=Channel.API, text=token, audience=Audience.EXTERNAL)
    verdict = inspector.inspect(msg)
    assert verdict.action == Action.REDACT, verdict


def test_a_mixed_case_token_alone_is_held(inspector: Inspector) -> None:
    found = findings(inspector, f"Hi,\n\n{rand(32)}\n\nthanks")
    assert found and all(c in ("medium", "high") for _, c, _ in found), found


def test_a_checksum_valid_github_token_is_high_confidence(inspector: Inspector) -> None:
    assert ("GITHUB_TOKEN", "high", GH) in findings(inspector, f"token {GH}")


def test_a_wrong_github_checksum_is_not_a_verified_token(inspector: Inspector) -> None:
    bad = GH[:-1] + ("A" if GH[-1] != "A" else "B")
    found = findings(inspector, f"see {bad} there")
    assert found and all(d == "GITHUB_TOKEN_UNVERIFIED" and c != "high" for d, c, _ in found)


NOT_FOUND = [
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "STRIPE_SECRET_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx",
    "SLACK_TOKEN=xoxb-your-bot-token",
    "DATABASE_URL=postgres://user:password@localhost/app",
    "Authorization: Bearer <your-token>",
    "api_key: ${API_KEY}",
    'token = "{{ token }}"',
    "password: changeme",
    "password: ****",
    "password = os.environ['DB_PASSWORD']",
    "Authorization: Basic " + base64.b64encode(b"user:password").decode(),
    "client_secret = 'abcdefghijklmnopqrstuvwxyz'",
    "api_key = '1111111111111111111111111111'",
    "update-passwd is single-threaded",
    "Your password is reset",
    "The password is incorrect.",
    f"Release signed with signing key {rand(40, '0123456789ABCDEF')}",
    "Key fingerprint = " + " ".join(rand(4, "0123456789ABCDEF") for _ in range(10)),
    f"fixed in commit {rand(40, '0123456789abcdef')}, see key rotation notes",
    "key = self._cache_key(request)",
    "The key file is /etc/ssl/private/server.key",
    "see ghp_" + rand(20) + " (too short)",
    "dop_v1_" + rand(40, "0123456789abcdef"),
    "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----",
    "-----BEGIN RSA PRIVATE KEY-----\nyour key here\n-----END RSA PRIVATE KEY-----",
    "eyJub3QiOiJhIGp3dCJ9." + b64url(b'{"sub":"1"}') + "." + rand(30),  # header without "alg"
    "password = getpass.getpass()",
    # a hash on a line of a changelog is not a pasted token: only a whole message is
    f"Hashes:\n    {rand(64, '0123456789abcdef')}\n    SHA3-256 for the tarball",
    f"commit {rand(40, '0123456789abcdef')}\nAuthor: Jane Roe",
    f"  * Add Jane Roe's key {rand(40, '0123456789ABCDEF')}\n    to the signing keys.",
    "BH67BMAG0000129912345",  # an IBAN-shaped account number with a wrong check, not a token
    "curl -u <user:password> https://test.example/endpoint",
    "-----BEGIN PRIVATE KEY-----\nanything\n-----END PRIVATE KEY-----",
    'cache_key = "user:{user_id}:profile"',
    'bucket_key: "SalesResults-1.2"',
    "upload.credentials.url=dev-lb1.api.example.com:5215",
    f"export OP_SERVICE_ACCOUNT_TOKEN=ops_eyJ{rand(30)}...",
    "secret_key: '${VAULT_PREFIX}:${SECRET_NAME}'",
    "db_password = '%(db_password)s'",
    "single-threaded",
    "v2.14.3-rc1",
    "the token is linux-image-6.1.0-13-amd64 now",
    "la clé est dans le tiroir de la cuisine, le code est sur la porte",
    "Der Schlüssel liegt unter der Matte.",
    # names from source code in a changelog are not tokens
    "\t* libtiff/tif_dirread.c (TIFFReadDirEntryCheckRangeSlongSlong8): Change the test.",
    "    Replace fbCompositeSrc_x888x0565neon with a generic path",
    "Unencrypted and encrypted (pbeWithSHAAnd3-KeyTripleDES-CBC and others) keys.",
    f"rookTable = {rand(40)}",  # a random value assigned to a name that is not a secret's
    b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode()),  # a JWT header alone
    "GB82WEST12345698765432",  # an account number as the whole message is not a token
    f"Hi,\n\n{rand(32, '0123456789abcdef')}\n\nthanks",  # hex on a line: a hash as often as a key
]


@pytest.mark.parametrize("text", NOT_FOUND)
def test_not_found(inspector: Inspector, text: str) -> None:
    assert findings(inspector, text) == []


@pytest.mark.parametrize(
    "value",
    [
        "AKIAIOSFODNN7EXAMPLE",
        "xxxxxxxxxxxxxxxx",
        "<your-api-key>",
        "${TOKEN}",
        "{{ secret }}",
        "changeme",
        "abcdefghijklmnop",
        "1234567890123456",
        "abcd1234abcd1234abcd1234",
        "YOUR_API_KEY",
        "sk_live_...",
        "${VAULT_PREFIX}:${SECRET_NAME}",
        "%(db_password)s",
        "{{ .Values.apiKey }}",
        "abcd1234abcd1234abcd1234ABCD1234ABCD1234--__extra",  # a unit typed over, then a suffix
        "xoxp-1234-1234-1234-" + "".join(RNG.choice("0123456789abcdef") for _ in range(32)),
    ],
)
def test_placeholders(value: str) -> None:
    assert is_placeholder(value)


def test_random_tokens_are_not_placeholders() -> None:
    assert not any(is_placeholder(rand(40)) for _ in range(200))


def test_a_value_containing_template_characters_is_not_a_template() -> None:
    assert not any(is_placeholder(symbols(30)) for _ in range(50))


def test_jwt_header_must_be_json_with_alg() -> None:
    assert jwt(JWT)
    assert not jwt(b64url(b'{"typ":"JWT"}') + "." + JWT.split(".", 1)[1])
    assert not jwt("eyJhbGciOiJIUzI1NiJ9x." + JWT.split(".", 1)[1])


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("Tr0ub4dor&3", True),
        ("single-threaded", False),
        ("required", False),
        ("hunter2", False),
        ("getpass()", False),
        ("Sommer2024!", True),
    ],
)
def test_password_value(value: str, ok: bool) -> None:
    assert password_value(value) is ok
