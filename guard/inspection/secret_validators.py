"""Validators for credentials: built-in token checksums, placeholders and "does this look random".

Provider rules (rules/credentials-providers.yaml) find a token by its documented prefix, length
and alphabet; these validators then say whether the match is a real credential rather than a
documentation example or a placeholder (`AKIAIOSFODNN7EXAMPLE`, `sk_live_xxxxxxxx`,
`<your-token>`, `${SECRET}`), and check the checksums some providers build into their tokens
(GitHub and npm: CRC32 in base62 in the last six characters). The generic rules (a value after a
`password`/`secret`/`token` cue, a lone token on a line) lean on `secret_value` and
`password_value`, which reject hashes, UUIDs, paths, identifiers and words.

Every validator takes the matched value (for API_KEY the text as written) and returns a bool.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import string
import zlib
from collections import Counter
from itertools import pairwise

from guard.inspection.registry import validator

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# Words that mark a value as an example or a slot to fill in, not a secret (lower case).
_PLACEHOLDER_WORDS = (
    "example",
    "xxxx",
    "placeholder",
    "sample",
    "redacted",
    "changeme",
    "change_me",
    "change-me",
    "token_here",
    "key_here",
    "secret_here",
    "here_",
    "_here",
    "notreal",
    "not_real",
    "not-a-real",
    "replace_me",
    "replaceme",
    "insert_",
    "_goes_here",
    "****",
    "....",
    "…",
)
# Short words that mark a placeholder only as a word of their own ("your-token", "YOUR_KEY",
# "fakeToken"), never inside a random run ("8zyOur" is not "your").
_PLACEHOLDER_SHORT = ("your", "fake", "todo", "fixme", "tbd", "foobar", "lorem", "dummy")
_CASE_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_PLACEHOLDER_EXACT = frozenset(
    """
null none nil true false undefined empty secret token password passwd pass pwd key apikey api_key
string str text value required optional unset default test testing admin root user username guest
demo sample example changeit changeme redacted hidden masked omitted removed n/a na tbd
password1 password123 passw0rd p@ssw0rd p@ssword letmein qwerty hunter2 secretkey secret_key mysecret
my_secret mypassword my_password supersecret s3cr3t secret123 abc123 admin123 test123 foobar123
""".split()
)
# One template expression or slot: a value made only of these (and separators) is a reference to
# a secret kept elsewhere, not the secret. A value that merely contains such characters ("m{{x}$y")
# is judged like any other value.
_TEMPLATE_PART = (
    r"(?:<[^<>]*>|\[[^\[\]]*\]|\{\{[^{}]*\}\}|\{%[^%]*%\}|\$\{[^{}]*\}|\$\([^()]*\)|\$[A-Za-z_][A-Za-z0-9_]*"
    r"|%[A-Za-z_][A-Za-z0-9_]*%|%\([A-Za-z_][A-Za-z0-9_]*\)[sdr]|#\{[^{}]*\}|@[A-Za-z_][A-Za-z0-9_]*@"
    r"|\{[A-Za-z_][A-Za-z0-9_.]*\}|\{\{-?\s*[^{}]*\s*-?\}\})"
)
_TEMPLATE = re.compile(rf"^{_TEMPLATE_PART}(?:[-_.:/@ ]{{0,3}}{_TEMPLATE_PART})*$")
_ENV_CALL = re.compile(
    r"(?:os\.environ|os\.getenv|getenv\(|process\.env|ENV\[|System\.getenv|\$ENV\{|secrets\.[A-Z]|"
    r"^vault:|^ssm:|^arn:aws|^env\()",
    re.IGNORECASE,
)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX = re.compile(r"^(?:0x)?[0-9a-fA-F]+$")
_WORDISH = re.compile(r"^[A-Za-z]+[0-9]{0,4}$")
_SPLIT = re.compile(r"[/._:\-]+")
_WINDOWS_PATH = re.compile(r"[A-Za-z]:\\|[^\\]*\\[^\\]*\\")  # C:\x, a\b\c: a path, not one stray backslash
_HOST_PORT = re.compile(
    r"^[A-Za-z0-9-]{1,30}(?:\.[A-Za-z0-9-]{1,30})*\.[a-z]{2,6}(?::\d{1,5})?$"
)  # host[:port]
_VERSIONISH = re.compile(r"^v?\d+(?:[._-]\d+)+[a-z0-9._+~-]*$", re.IGNORECASE)


def _is_sequential(run: str) -> bool:
    steps = {ord(b) - ord(a) for a, b in pairwise(run)}
    return steps in ({1}, {-1})


def _has_sequence(value: str, length: int = 6) -> bool:
    """A run such as "abcdef", "123456" or "FEDCBA": typed by a person, not drawn at random."""
    run = 1
    prev_step = 0
    for a, b in pairwise(value):
        step = ord(b) - ord(a)
        if step in (1, -1) and a.isalnum() and b.isalnum() and (run == 1 or step == prev_step):
            run += 1
            if run >= length:
                return True
        else:
            run = 2 if step in (1, -1) and a.isalnum() and b.isalnum() else 1
        prev_step = step
    return False


def _repeats(value: str) -> bool:
    """The value is a short unit said again and again ("abcd1234abcd1234…", "a1a1a1a1…")."""
    n = len(value)
    for period in range(1, min(12, n // 3) + 1):
        if all(value[i] == value[i % period] for i in range(n)):
            return True
    return False


def _longest_run(value: str) -> int:
    best = run = 1 if value else 0
    for a, b in pairwise(value):
        run = run + 1 if a == b else 1
        best = max(best, run)
    return best


_STUTTER = re.compile(r"(.{3,8})\1\1")


def _marked_as_example(v: str, low: str) -> bool:
    """Empty, a known dummy, a template slot or environment reference, or a word that marks an
    example (EXAMPLE, your-, fake, xxxx): shared by both placeholder tests below."""
    if not v or low in _PLACEHOLDER_EXACT or _TEMPLATE.match(v) or _ENV_CALL.search(v):
        return True
    if any(w in low for w in _PLACEHOLDER_WORDS):
        return True
    words = [w.lower() for w in _CASE_WORD.findall(v)]
    return any(w.startswith(_PLACEHOLDER_SHORT) and (len(w) < 9 or w[:4] in ("your", "fake")) for w in words)


def is_placeholder(value: str) -> bool:
    """A documentation example, a template slot, an environment reference or a typed-in dummy."""
    v = value.strip().strip("\"'`")
    low = v.lower()
    if _marked_as_example(v, low):
        return True
    if v.endswith("..") or "..." in v:
        return True
    if (
        (v.startswith("<") and ">" not in v)
        or (v.endswith(">") and "<" not in v)
        or (v.endswith("]") and "[" not in v)
    ):
        return True  # one end of a slot ("<your-token", "password>"), cut where a quote or space stood
    if len(v) >= 8:
        body = v
        if _longest_run(body) >= max(5, len(body) // 4) or _repeats(body):
            return True
        if _has_sequence(body):
            return True
        m = _STUTTER.search(body.lower())
        if m is not None and len(set(m.group(1))) >= 3:
            return True  # "abcd1234abcd1234abcd1234…--extra", "1234-1234-1234-": a unit typed over
        tail = body[len(body) * 2 // 5 :]
        if len(tail) >= 8 and (_repeats(tail) or _longest_run(tail) >= max(5, len(tail) // 3)):
            return True
        if _wordy(body):
            return True
        # Very little variety for the length: "aaaabbbbaaaabbbb", "123412341234"
        if len(set(body)) < min(8, max(4, len(body) // 4)):
            return True
    return False


_CAP_WORD = re.compile(r"[A-Z][a-z]{3,}")
_LOW_PART = re.compile(r"[a-z]{3,}")
_VOWELS = frozenset("aeiou")


def _wordy(value: str) -> bool:
    """Made of words ("SlackAppConfigurationTokenHere", "my-tokens_are-correct"), not drawn at
    random: capitalised words or vowel-rich lower-case words cover half the value."""
    covered = sum(
        len(w) for w in _CAP_WORD.findall(value) if sum(c in _VOWELS for c in w.lower()) * 4 >= len(w)
    )
    if covered * 2 >= len(value) and covered >= 12:
        return True
    parts = [p.rstrip("0123456789").rstrip(string.ascii_uppercase) for p in re.split(r"[_\-.]+", value) if p]
    words = [p for p in parts if _LOW_PART.fullmatch(p) and sum(c in _VOWELS for c in p) * 10 >= len(p) * 3]
    return len(parts) >= 3 and sum(map(len, words)) * 5 >= len(value) * 2


def shannon_entropy(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values()) if n else 0.0


def _classes(value: str) -> tuple[bool, bool, bool, bool]:
    return (
        any(c.islower() for c in value),
        any(c.isupper() for c in value),
        any(c.isdigit() for c in value),
        any(not c.isalnum() for c in value),
    )


def _switch_ratio(value: str) -> float:
    """How often the character class (lower, upper, digit, other) changes between neighbours:
    about half the time in a random token, rarely in words, names and version numbers."""

    def cls(c: str) -> int:
        return 0 if c.islower() else 1 if c.isupper() else 2 if c.isdigit() else 3

    if len(value) < 2:
        return 0.0
    switches = sum(cls(a) != cls(b) for a, b in pairwise(value))
    return switches / (len(value) - 1)


def _identifier_like(value: str) -> bool:
    """Words joined by separators: a path, a module, a package, a function or file name."""
    if value.startswith(("/", "~", "./", "../", "\\")) or "://" in value or _WINDOWS_PATH.match(value):
        return True
    if _HOST_PORT.match(value):
        return True
    parts = [p for p in _SPLIT.split(value) if p]
    if not parts:
        return True
    if all(
        _WORDISH.match(p) and not (sum(c.isupper() for c in p) > 1 and p.lower() != p.upper()) for p in parts
    ):
        return True
    return bool(_VERSIONISH.match(value))


def random_looking(value: str, min_len: int = 16) -> bool:
    """Mixed, high-entropy, no word structure: what a generated key looks like."""
    v = value
    if len(v) < min_len or is_placeholder(v) or _identifier_like(v) or _wordy(v):
        return False
    lower, upper, digit, _ = _classes(v)
    if not digit and not (lower and upper and len(v) >= 24):
        return False
    if not (lower or upper):
        return False
    alnum = "".join(c for c in v if c.isalnum())
    if len(alnum) < min_len * 3 // 4:
        return False
    ent = shannon_entropy(v)
    if ent < min(3.0 + 0.02 * len(v), 3.6):
        return False
    return _switch_ratio(alnum) >= 0.22


@validator("token")
def token(value: str) -> bool:
    """A provider token found by its prefix: anything but a placeholder or example."""
    return not is_placeholder(value)


def _b62(n: int, width: int = 6) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = _BASE62[r] + out
    return out.rjust(width, "0")


def crc32_base62(body: str) -> str:
    """GitHub's and npm's token checksum: CRC32 of the random part, base62, six characters."""
    return _b62(zlib.crc32(body.encode("ascii")) & 0xFFFFFFFF)


@validator("github_checksum")
def github_checksum(value: str) -> bool:
    """ghp_/gho_/ghu_/ghs_/ghr_ + 30 random base62 + 6-char CRC32 checksum of those 30
    (GitHub's token format of April 2021); also npm_ tokens, which use the same scheme."""
    _, _, rest = value.partition("_")
    if len(rest) != 36 or not rest.isalnum() or is_placeholder(rest):
        return False
    return crc32_base62(rest[:30]) == rest[30:]


@validator("token_checksum_failed")
def token_checksum_failed(value: str) -> bool:
    """A token with the provider's shape whose built-in checksum does not hold (lower score)."""
    return not is_placeholder(value) and not github_checksum(value)


def _b64decode(data: str) -> bytes | None:
    data = data.strip()
    try:
        return base64.urlsafe_b64decode(data.replace("+", "-").replace("/", "_") + "=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return None


@validator("jwt")
def jwt(value: str) -> bool:
    """A JSON Web Token: the first part is base64url JSON with an "alg" (RFC 7519/7515)."""
    parts = value.split(".")
    if len(parts) not in (3, 5):
        return False
    raw = _b64decode(parts[0])
    if raw is None:
        return False
    try:
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return False
    if not isinstance(header, dict) or not ("alg" in header or "enc" in header):
        return False
    return (
        not is_placeholder(parts[-1])
        if len(parts[-1]) >= 8
        else len(parts) == 3 and header.get("alg") == "none"
    )


@validator("basic_auth")
def basic_auth(value: str) -> bool:
    """HTTP Basic credentials: base64 of "user:password" (RFC 7617), not a dummy."""
    raw = _b64decode(value)
    if raw is None:
        return False
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    _, sep, password = text.partition(":")
    return bool(sep) and bool(password) and text.isprintable() and not is_placeholder(password)


@validator("discord_bot")
def discord_bot(value: str) -> bool:
    """A Discord bot token: base64 of the bot's numeric id, a timestamp part and an HMAC."""
    first = value.split(".")[0]
    raw = _b64decode(first)
    return raw is not None and raw.isdigit() and 15 <= len(raw) <= 20 and not is_placeholder(value)


@validator("base64_key")
def base64_key(value: str) -> bool:
    """A key given as standard base64 of random bytes (Azure storage and Service Bus keys)."""
    v = value.split("=", 1)[1] if "=" in value.rstrip("=") else value
    raw = _b64decode(v)
    return raw is not None and len(raw) >= 16 and not is_placeholder(v) and len(set(raw)) > len(raw) // 3


@validator("secret_value")
def secret_value(value: str) -> bool:
    """A value after a key/token/secret cue: random-looking, not a hash-like bare hex run shorter
    than 32, not a UUID, a path, an identifier, a version or a placeholder."""
    v = value.strip().strip("\"'`")
    if v.endswith("..") or "…" in v:
        return False  # shortened on purpose ("ops_eyJzaWdu..."): shown, not given
    v = v.rstrip(".,;:)")
    if len(v) < 12 or len(v) > 1024 or is_placeholder(v):
        return False
    if _UUID.match(v):
        # a UUID assigned to a token/secret name is a token (Heroku, Snyk, HubSpot keys), unless it
        # is time-based (version 1): that one is an id, not drawn at random
        return v[14] != "1"
    if v.startswith("0x"):
        return False
    if _HEX.match(v):
        if v.isdigit():  # a numeric token (Discord ids, PINs of banks' APIs): long and varied
            return len(v) >= 16 and shannon_entropy(v) >= 2.5 and not _has_sequence(v, 5)
        if len(v) >= 16 and (len(v) >= 32 or any(c.isalpha() for c in v)):
            return shannon_entropy(v.lower()) >= min(3.0, 2.6 + len(v) / 80) and _switch_ratio(v) >= 0.2
        return False
    if _id_secret_pair(v) or _symbol_rich(v) or generated_one_case(v) or _joined_one_case(v):
        return True
    if _B64_BLOB.fullmatch(v) and v.count("/") <= len(v) // 16:
        # base64 of random bytes may start with "/" or hold a few: not a path
        return random_looking(v.replace("/", "").replace("+", "").rstrip("="), 24)
    return random_looking(v, 12)


_B64_BLOB = re.compile(r"[A-Za-z0-9+/]{32,}={0,2}")


_JOINED = re.compile(r"[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)+")


def _joined_one_case(v: str) -> bool:
    """Parts of one case joined by - _ . ("k3q9x-0mv7tz2pw81qh4"): a generated key with a
    prefix or separators; package, host and file names are words and numbers, not drawn."""
    return (
        bool(_JOINED.fullmatch(v))
        and not _identifier_like(v)
        and generated_one_case(re.sub(r"[-_.]", "", v), 16)
    )


_FORMAT_FIELD = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]+\}|%[sdr](?![A-Za-z0-9])|%\([A-Za-z_]")
_REGEXISH = re.compile(r"\\[wdsbWDSB]|[a-zA-Z0-9]-[a-zA-Z0-9]\]|\][+*?]|\{\d+,\d*\}|^\^|\(\?")


def _symbol_rich(v: str) -> bool:
    """A secret of letters and many different symbols ("q{x)w$r]k(z>-_$#..."), as password
    generators with punctuation make them; not a format string, a regular expression, a path."""
    if len(v) < 10 or any(c.isspace() for c in v) or "://" in v:
        return False
    if _FORMAT_FIELD.search(v) or _REGEXISH.search(v) or _identifier_like(v):
        return False
    symbols = {c for c in v if not c.isalnum()}
    return len(symbols) >= 4 and sum(c.isalpha() for c in v) >= 4 and shannon_entropy(v) >= 3.3


_VOWEL_RUN = re.compile(r"[a-z]{5,}")
_IBAN_SHAPE = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$")
_LONG_DIGITS = re.compile(r"\d{8}")


def generated_one_case(value: str, min_len: int = 14) -> bool:
    """Letters of one case and digits drawn at random ("k3q9x0mv7tz2pw81"): many services issue
    such keys. Not words with a number ("debian12bookworm"), not a version, not a sequence."""
    v = value
    if not min_len <= len(v) <= 128 or not v.isalnum() or not v.isascii():
        return False
    if not (v.lower() == v or v.upper() == v) or is_placeholder(v):
        return False
    digits = sum(c.isdigit() for c in v)
    if digits < 2 or len(v) - digits < 4 or _IBAN_SHAPE.match(v) or _LONG_DIGITS.search(v):
        return False  # an account number (country, check digits, a long digit run) is not drawn at random
    if shannon_entropy(v.lower()) < min(3.3, 2.5 + len(v) / 20):
        return False
    low = v.lower()
    wordy = sum(len(r) for r in _VOWEL_RUN.findall(low) if _pronounceable(r))
    return wordy * 2 < len(v) and _switch_ratio(low) >= 0.15


_CONSONANTS3 = re.compile(r"[bcdfghjklmnpqrstvwxz]{3}")


def _pronounceable(run: str) -> bool:
    """A run of letters that reads as a word: vowels in a third of it and no three consonants in
    a row ("bookworm", "debian"); drawn letters rarely are ("vphouk", "agfaddruk")."""
    return sum(c in "aeiouy" for c in run) * 10 >= len(run) * 3 and not _CONSONANTS3.search(run)


_PAIR = re.compile(r"^([A-Za-z0-9._%+@-]{0,64}):([^\s:]{1,128})$")
_DOTTED_NUMBERS = re.compile(r"\d+\.\d+\.\d+")
_HASH_LABELS = frozenset(
    "sha1 sha256 sha384 sha512 md5 sha blake2b crc32 urn uuid git commit http https".split()
)


def _id_secret_pair(v: str) -> bool:
    """An id and its secret joined by a colon ("3f9a2c71:b8e0d4a6", "deploy:Xq7!pL2v"), as
    credentials are pasted (Basic auth, curl -u, Sidekiq/Bundler credentials)."""
    m = _PAIR.match(v)
    if m is None:
        return False
    user, secret = m.groups()
    if user.lower() in _HASH_LABELS or is_placeholder(secret):
        return False
    if _HEX.match(user) and _HEX.match(secret):  # a hex id with a hex secret
        both = user + secret
        return (
            len(user) >= 6
            and len(secret) >= 8
            and any(c.isalpha() for c in both)
            and shannon_entropy(both.lower()) >= 2.7
            and not _repeats(secret)
        )
    if len(secret) < 8 or _HEX.match(secret) or not password_value(secret):
        return False
    if _identifier_like(secret) or _identifier_like(secret.replace("=", "-")):
        return False  # "x64-uwp=fail": settings, not a password
    if not user or _DOTTED_NUMBERS.search(secret):
        return False  # a version ("rc0.15.0_2023..."), not a password
    lower, upper, digit, other = _classes(secret)
    if lower and upper + digit + other >= 2:
        return True
    return generated_one_case(secret, 12) or (
        lower and upper and len(secret) >= 12 and _switch_ratio(secret) >= 0.3
    )


@validator("key_value")
def key_value(value: str) -> bool:
    """A value after the bare word "key": like `secret_value`, but a hex-only value is refused
    (PGP fingerprints, key ids, hashes and commit ids sit next to "key" in ordinary text)."""
    v = value.strip().strip("\"'`").rstrip(".,;:)")
    if _HEX.match(v.replace(" ", "").replace(":", "")):
        return False  # a hex id:secret pair next to "key" is CUED_TOKEN_WEAK's, at low confidence
    return not _UUID.match(v) and secret_value(v)


def _decodes_to_text(value: str) -> bool:
    """True when the value is base64 of printable text (a sentence, a user:password pair)."""
    if len(value) < 16 or len(value) % 4 == 1:
        return False
    raw = _b64decode(value)
    if raw is None or len(raw) < 12:
        return False
    printable = sum(32 <= b < 127 for b in raw)
    return printable * 10 >= len(raw) * 9 and b" " in raw


@validator("lone_token")
def lone_token(value: str) -> bool:
    """A generated-looking token alone on its line (pasted into a chat or a mail): upper case,
    lower case and digits mixed at random, no word structure; hex runs, UUIDs and lines of an
    armoured base64 block are left out."""
    v = value.strip()
    if _HEX.match(v) or _UUID.match(v) or not 16 <= len(v) <= 400:
        return False
    if v.startswith("eyJ") or ".." in v or re.match(r"[A-Za-z]{2,10}[_-]", v):
        return False  # JWTs and provider-prefixed tokens are judged by their own rules
    if v.count(".") >= 2:
        return False  # dotted tokens (JWT, Discord, Doppler) are judged by their own rules
    alnum = [c for c in v if c.isalnum()]
    if sum(c in "0123456789abcdefABCDEF" for c in alnum) * 10 >= len(alnum) * 9:
        return False  # a hex id with a suffix ("...-us2", "...-2"), not a pasted token
    lower, upper, digit, _ = _classes(v)
    if not (digit and (lower or upper)):
        return False
    if not (lower and upper) and len(v) < 24:
        return False
    if len(v) in (60, 64, 72, 76) or "+" in v or "/" in v or v.endswith("="):
        return False  # a line of a base64 block (MIME part, PEM, PGP armour), not a pasted token
    if _decodes_to_text(v):
        return False  # base64 of words ("VGhpcyBpcyBh..."): encoded text, not a key
    return random_looking(v, 16)


@validator("lone_token_weak")
def lone_token_weak(value: str) -> bool:
    """A line that is one generated value and nothing else, of a shape that is also used for ids
    and hashes: a UUID, 32+ hex, letters of one case with digits, an id:secret pair, base64 of
    user:password, a dotted token (JWT-like, Discord-like). Reported at low confidence (masked,
    not held); words, versions, paths, host and file names are not tokens."""
    v = value.strip().strip("\"'`")
    if ":" in v:
        return _id_secret_pair(v)
    if v.startswith("eyJ"):
        return False  # a JWT or a part of one: the JWT rules decode it
    if not 14 <= len(v) <= 400 or is_placeholder(v) or lone_token(v):
        return False  # a mixed-case random token is LONE_TOKEN's, at medium confidence
    if _UUID.match(v):
        return v[14] != "1"
    if _HEX.match(v):  # one case: a hex key is printed in one case; "eaaaC0b7..." is a mangled one
        return not v.isdigit() and len(v) >= 32 and (v.lower() == v or v.upper() == v) and secret_value(v)
    if _id_secret_pair(v):
        return True
    if v.count(".") >= 2 or re.match(r"[A-Za-z]{2,10}[_-]", v) or re.search(r"-[a-z]{0,4}\d{0,2}$", v):
        return False  # dotted and provider-prefixed tokens, hex ids with a suffix: their own rules judge
    if "+" in v or "/" in v or v.endswith("="):
        raw = _b64decode(v) if len(v) % 4 == 0 else None
        try:
            text = raw.decode("ascii") if raw is not None else ""
        except UnicodeDecodeError:
            return False
        return text.isprintable() and _id_secret_pair(text)  # base64 of user:password, pasted
    if v.isalnum():  # a whole message: base64 line lengths (64, 76) do not matter here
        return generated_one_case(v) or random_looking(v, 14)
    core = v.replace("_", "").replace("-", "")
    if not core.isalnum() or _identifier_like(v) or _wordy(v):
        return False
    return generated_one_case(core, 20) or random_looking(v, 16)


_CODE_WORD = re.compile(r"[A-Z]{2,}(?![a-z])|[A-Z]?[a-z]+|[A-Z]")


def _code_identifier(v: str) -> bool:
    """A name from source code ("TIFFReadDirEntryCheckRangeSlong8", "fbCompositeSrc_x888x0565neon",
    "V4L2_PIX_FMT_MPEG2_SLICE"): words cover half of it, or a third with at most two numbers in it
    (a drawn token has digits all through it). Measured: 3-5% of random tokens are refused."""
    covered = sum(
        len(w)
        for w in _CODE_WORD.findall(v)
        if (len(w) >= 3 and _pronounceable(w.lower())) or (len(w) >= 7 and w[1:].islower())
    )
    numbers = len(re.findall(r"\d+", v))
    return v.count("_") >= 2 or covered * 2 >= len(v) or (numbers <= 2 and covered * 10 >= len(v) * 3)


@validator("inline_token")
def inline_token(value: str) -> bool:
    """A generated token inside running text, with no cue: mixed at random like a lone token,
    and not a name from source code, which changelogs and support mail are full of."""
    return lone_token(value) and not _code_identifier(value)


@validator("pair_password")
def pair_password(value: str) -> bool:
    """The password of an e-mail:password line (the e-mail itself is reported as contact data)."""
    return _id_secret_pair("user:" + value.strip().strip("\"'`"))


@validator("weak_key_value")
def weak_key_value(value: str) -> bool:
    """A value after a key/token cue in a sentence whose shape is shared with ids and hashes (a
    UUID, 32-64 hex, an id:secret pair): reported at low confidence (masked, not held)."""
    v = value.strip().strip("\"'`").rstrip(".,;:)")
    if is_placeholder(v):
        return False
    if _UUID.match(v):
        return v[14] != "1"
    if v.isdigit():  # a long numeric key: varied, no sequence
        return 24 <= len(v) <= 64 and shannon_entropy(v) >= 2.8 and secret_value(v)
    if _HEX.match(v):  # gpg prints fingerprints and key ids in capitals; keys in hex are lower case
        return 32 <= len(v) <= 64 and v.lower() == v and secret_value(v)
    return _id_secret_pair(v)


@validator("jwt_like")
def jwt_like(value: str) -> bool:
    """A JSON Web Token that lost its signature ("header.payload"): the header and the payload
    both decode to JSON objects and the header names an algorithm."""
    parts = value.split(".")
    if len(parts) not in (2, 3) or not all(p.startswith("eyJ") for p in parts[:2]):
        return False
    decoded = []
    for part in parts[:2]:
        raw = _b64decode(part)
        try:
            decoded.append(json.loads(raw) if raw is not None else None)
        except (ValueError, UnicodeDecodeError):
            return False
    header = decoded[0]
    return isinstance(header, dict) and isinstance(decoded[1], dict) and ("alg" in header or "typ" in header)


@validator("private_key_armour")
def private_key_armour(value: str) -> bool:
    """A private key's armour header followed by a body that is not base64 (a pasted key that
    was mangled, shortened or is being described): the header itself says what the body is.
    A body that is a slot or an ellipsis ("...", "<your key>", "your key here") is not a key."""
    lines = value.replace("\\n", "\n").splitlines()
    body = " ".join(ln.strip() for ln in lines if "-----" not in ln).strip()
    if sum(not c.isspace() for c in body) < 12:
        return False  # "anything", "xxx": a stand-in word, too short for key material
    return not is_placeholder(body)


@validator("cli_secret")
def cli_secret(value: str) -> bool:
    """A secret on a command line: a password (--password=..., mysql -p...), or user:password
    given to curl -u/--user, or a key as the user with an empty password ("-u sk_...:", as
    Stripe and others document): the password, or the lone key, must look like a secret."""
    v = value.strip().strip("\"'`")
    if password_value(v) and ":" not in v:
        return True
    user, sep, password = v.partition(":")
    if not sep:
        return False
    if password:
        return password_value(password) and not is_placeholder(user + password)
    return len(user) >= 8 and password_value(user)


_COMMON_NON_PASSWORDS = frozenset(
    """
required incorrect invalid wrong expired reset changed forgotten missing empty blank hashed
encrypted protected incorrectly set stored saved sent below above attached same different
""".split()
)


@validator("password_value")
def password_value(value: str) -> bool:
    """A password as written after a password cue: 6-128 characters, not a placeholder, an
    environment reference or a plain word; it needs a digit or a symbol, or mixed case."""
    v = value.strip().strip("\"'`")
    v = v.rstrip(".,;:!?)") if v.count("(") <= v.count(")") - 1 or not v.endswith(")") else v
    if re.fullmatch(r"[A-Za-z_][\w.]*\(.*\)", v):
        return False  # a call: getpass.getpass(), read_secret("db")
    v = v.rstrip(".,;:!?")
    if not 6 <= len(v) <= 128 or is_placeholder(v) or any(c.isspace() for c in v):
        return False
    low = v.lower()
    if low in _COMMON_NON_PASSWORDS or low.startswith(("http", "www.", "/", "~")):
        return False
    if "://" in v or (v.startswith(("(", "[", "{", "<", "$", "%", "@")) and len(v) < 10):
        return False
    lower, upper, digit, other = _classes(v)
    if not (lower or upper or digit):
        return len(set(v)) >= 6  # symbols only: still a password when varied
    if digit and not (lower or upper):
        return len(v) >= 8 and len(set(v)) >= 5 and not _has_sequence(v, 5)
    if other and not digit and all(_WORDISH.match(p) for p in re.split(r"[-_.']+", v) if p):
        return False  # "single-threaded", "read-only", "e-mail": words joined by hyphens or dots are prose
    if not (digit or other) and not (lower and upper):
        return False
    if not (digit or other) and lower and upper:
        # "PassWord", "MySQL": camel words; a password has a capital inside a lower run
        return sum(c.isupper() for c in v) >= 2 and not re.fullmatch(r"(?:[A-Z][a-z]+)+", v)
    return True


@validator("unquoted_password")
def unquoted_password(value: str) -> bool:
    """A password assigned without quotes: as `password_value`, and not a code expression
    (an identifier, an attribute, a call, a number, a boolean)."""
    v = value.rstrip(",;)")
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:\(.*\))?", v):
        return (
            bool(re.search(r"\d", v))
            and bool(re.search(r"[A-Za-z]", v))
            and password_value(v)
            and "(" not in v
        )
    if v.endswith(("(", "()")) or re.fullmatch(r"-?\d+(?:\.\d+)?", v):
        return False
    return password_value(v)


@validator("cued_token")
def cued_token(value: str) -> bool:
    """A weak-format token (hex run, UUID, fixed-length letters and digits) found next to its
    provider's name: not a placeholder, not words, and as varied as a generated value is."""
    v = value.strip()
    if is_placeholder(v) or _identifier_like(v):
        return False
    if _UUID.match(v):
        return True
    lower, upper, digit, _ = _classes(v)
    if not digit and not (lower and upper):
        return False
    return len(set(v)) >= min(10, max(5, len(v) // 3))


@validator("aws_secret")
def aws_secret(value: str) -> bool:
    """An AWS secret access key: 40 base64 characters drawn at random (upper, lower, digits)."""
    lower, upper, digit, _ = _classes(value)
    return len(value) == 40 and lower and upper and digit and random_looking(value, 40)


_PEM_HEADER = re.compile(r"^[A-Za-z-]+:.*$", re.MULTILINE)


@validator("private_key_block")
def private_key_block(value: str) -> bool:
    """A PEM/OpenSSH/PGP/PuTTY private key: a body of real base64 (40+ characters, varied),
    not "..." or "xxxx" or a one-line stand-in."""
    lines = value.splitlines()
    body = "\n".join(
        ln for ln in lines if "-----" not in ln and "---- " not in ln and not _PEM_HEADER.match(ln.strip())
    )
    compact = "".join(body.split())
    if len(compact) < 40 or not re.fullmatch(r"[A-Za-z0-9+/=]+", compact):
        return False
    return not is_placeholder(compact[:64]) and len(set(compact)) >= 20


@validator("aws_key_id_real")
def aws_key_id_real(value: str) -> bool:
    """An AWS access key id that is not AWS's documentation example or a placeholder."""
    compact = "".join(value.split()).replace(">", "")
    return re.fullmatch(r"[A-Z0-9]{20}", compact) is not None and not is_placeholder(compact[4:])


@validator("uuid4_token")
def uuid4_token(value: str) -> bool:
    """A UUID used as a secret is drawn at random: version 4 (a time-based v1 is an id)."""
    return bool(_UUID.match(value)) and value[14] == "4" and not is_placeholder(value)


# --- provider pack validators (rules/credentials-providers.yaml) -------------------------------------


def _halves_repeat(value: str) -> bool:
    """The value is one block written twice or more ("checking_64--checking_64--"): typed, not drawn."""
    n = len(value)
    return any(n % k == 0 and value == value[: n // k] * k for k in (2, 3, 4) if n // k >= 4)


def obvious_placeholder(value: str) -> bool:
    """What no generated token looks like: a template slot or an environment reference, a word that
    marks an example (EXAMPLE, xxxx, your-, fake), one character run long, a short unit repeated,
    an alphabet or digit sequence, or too little variety. Unlike `is_placeholder` it does not call
    a body made of words a placeholder: for a token with a provider's own prefix at the provider's
    documented length, a readable body is a test token someone may still leak."""
    v = value.strip().strip("\"'`")
    low = v.lower()
    if _marked_as_example(v, low):
        return True
    if v.startswith("<") or v.endswith((">", "..", "]")) or "..." in v:
        return True
    if len(v) < 8:
        return False
    if _longest_run(v) >= max(5, len(v) // 4) or _repeats(v) or _halves_repeat(v) or _has_sequence(v):
        return True
    body = re.split(r"[-_.]", v, maxsplit=1)[-1]  # after a provider prefix such as "gloas-"
    if len(body) >= 8 and (_repeats(body) or _halves_repeat(body)):
        return True
    tail = v[len(v) * 2 // 5 :]
    if len(tail) >= 8 and (_repeats(tail) or _longest_run(tail) >= max(5, len(tail) // 3)):
        return True
    return len(set(v)) < min(8, max(4, len(v) // 4))


@validator("provider_token")
def provider_token(value: str) -> bool:
    """A token matched by its provider's prefix at the documented length: anything but an obvious
    placeholder (the prefix and exact length already make the match a token of that provider)."""
    return not obvious_placeholder(value)


_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def bech32_polymod(values: list[int]) -> int:
    """BIP-173's checksum function over the expanded human-readable part and the data."""
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i, gen in enumerate(_BECH32_GEN):
            if (top >> i) & 1:
                chk ^= gen
    return chk


def bech32_hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


@validator("bech32_checksum")
def bech32_checksum(value: str) -> bool:
    """A Bech32 string (BIP-173) whose 6-character checksum holds, e.g. an age secret key
    (AGE-SECRET-KEY-1...); Bech32m (constant 0x2BC830A3) is accepted too. Written in one case."""
    if value != value.upper() and value != value.lower():
        return False
    v = value.lower()
    hrp, sep, data = v.rpartition("1")
    if not sep or not hrp or len(data) < 7 or any(c not in _BECH32_CHARSET for c in data):
        return False
    values = bech32_hrp_expand(hrp) + [_BECH32_CHARSET.index(c) for c in data]
    return bech32_polymod(values) in (1, 0x2BC830A3) and not obvious_placeholder(data[:-6])


@validator("random_tail")
def random_tail(value: str) -> bool:
    """A token whose last part (after its prefix and id groups) is random: not a placeholder, and
    letters and digits both in that part ("xoxp-1-RANDOMSTRINGHERE" is a slot to fill in)."""
    tail = re.split(r"[-.]", value)[-1]
    return token(value) and any(c.isdigit() for c in tail) and any(c.isalpha() for c in tail)
