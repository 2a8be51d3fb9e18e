"""Settings: one object, built once in `main()` from a TOML file plus `GUARD_…` environment.

Every key can be set as `GUARD_<SECTION>__<KEY>` (lists and tables as JSON). A bad value stops
start-up with a `ConfigError` that names the key, e.g. `smtp.listen: expected HOST:PORT`.
Nothing here reads the environment at import time.

Relative paths (`data_dir`, a `sqlite:///` store, TLS files, rule paths) are relative to the
folder of the config file when one is given, wherever they were set (file, environment or the
defaults), so a command finds the same data from any working directory; with no config file,
to the working directory.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from guard.errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_listen(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return value


def _check_port(url: str) -> None:
    """The URL's port as the clients will read it: a bad one would crash start-up or a delivery."""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        raise ValueError(f"bad port in {parts.scheme}:// URL") from None


Listen = Annotated[str, AfterValidator(_check_listen)]
OptionalListen = Annotated[str, AfterValidator(lambda v: _check_listen(v) if v else v)]


def split_listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host.strip("[]"), int(port)


#: Where the organisation's customers' phone numbers come from, by default: a broad set of regions.
DEFAULT_PHONE_REGIONS: tuple[str, ...] = (
    "US", "CA", "GB", "IE", "DE", "FR", "ES", "IT", "NL", "BE", "AT", "CH", "PT", "SE", "NO", "DK",
    "FI", "PL", "AU", "NZ", "IN", "SG", "PH", "BR", "MX", "JP", "KR", "ZA", "TR", "CN", "HK", "AE",
    "IL", "AR", "CL", "CO", "GR", "CZ", "RO", "HU",
)  # fmt: skip


class OrgSettings(_Section):
    name: str = "Example Org"
    internal_domains: list[str] = Field(default_factory=lambda: ["example.com"])
    # ISO 3166 region codes whose national phone formats are recognised ("030 12345678" in DE);
    # international numbers (+44 20 …) are recognised whatever this holds. Order: most likely first.
    phone_regions: list[str] = Field(default_factory=lambda: list(DEFAULT_PHONE_REGIONS))

    @field_validator("phone_regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        import phonenumbers

        out = [r.strip().upper() for r in value]
        unknown = [r for r in out if r not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(
                f"unknown region code(s) {', '.join(map(repr, unknown))}: "
                "use ISO 3166 codes such as US, GB, DE"
            )
        if not out:
            raise ValueError("at least one region is needed for national phone formats")
        return list(dict.fromkeys(out))

    @field_validator("internal_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        out = []
        for d in value:
            d = d.strip().lower().lstrip("@").rstrip(".")
            if not d or " " in d:
                raise ValueError(f"not a domain: {d!r}")
            out.append(d.encode("idna").decode("ascii"))
        return out


class SmtpUser(_Section):
    name: str
    password_hash: str  # argon2 ("$argon2id$…") or bcrypt ("$2b$…"); never a clear password


class SmtpSettings(_Section):
    enabled: bool = True
    listen: Listen = "127.0.0.1:2525"
    upstream: str = ""  # empty: deliver to a local Maildir under data_dir (first-try default)
    upstream_username: str = ""
    upstream_password: str = ""
    upstream_timeout_s: float = 60.0
    upstream_tls_verify: bool = True
    hostname: str = ""
    max_message_bytes: int = 25 * 1024 * 1024
    max_recipients: int = 100
    relay_networks: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    users: list[SmtpUser] = Field(default_factory=list)
    auth_require_tls: bool = True  # AUTH is offered in clear text only on loopback
    tls_cert: str = ""
    tls_key: str = ""
    require_starttls: bool = False
    implicit_tls_listen: OptionalListen = ""
    quarantine_reply: Literal["accept", "reject"] = "accept"  # 250 (Postfix) or 550 (agents)
    session_timeout_s: float = 300.0
    inspect_timeout_s: float = 30.0
    max_commands: int = 10_000  # per command verb per connection; then 421 and close
    max_errors: int = 20  # 4xx/5xx replies per connection; then 421 and close

    @field_validator("upstream")
    @classmethod
    def _upstream(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in {"smtp", "smtp+starttls", "smtps"}:
            raise ValueError("expected smtp://, smtp+starttls:// or smtps:// URL")
        if value:
            _check_port(value)
        return value

    @field_validator("relay_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for net in value:
            ipaddress.ip_network(net, strict=False)
        return value


class HttpSettings(_Section):
    enabled: bool = True
    listen: Listen = "127.0.0.1:8025"
    max_body_bytes: int = 1024 * 1024
    upstream_timeout_s: float = 15.0
    metrics_listen: OptionalListen = ""  # empty: /metrics on the main listener


class StoreSettings(_Section):
    url: str = "sqlite:///var/guard.db"
    # Encryption keys for quarantined content: {"key-id": "<base64 32 bytes>"}; the first
    # listed (or `active_key`) encrypts, all decrypt. Empty: a key file under data_dir.
    keys: dict[str, str] = Field(default_factory=dict)
    active_key: str = ""
    retention_days: int = 30

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme not in {"sqlite", "postgresql", "postgres"}:
            raise ValueError("expected sqlite:///PATH or postgresql://user@host/db")
        return value


class ChatRoute(_Section):
    name: str
    format: Literal["slack", "teams", "discord", "mattermost", "googlechat", "generic"] = "generic"
    upstream: str
    audience: Literal["internal", "external"] = "external"
    secret: str = ""
    quarantine_reply: Literal["service", "accepted"] = "service"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value or not all(c.isalnum() or c in "-_" for c in value):
            raise ValueError("route names use letters, digits, '-' and '_'")
        return value

    @field_validator("upstream")
    @classmethod
    def _upstream(cls, value: str) -> str:
        if urlsplit(value).scheme not in {"http", "https"} or not urlsplit(value).netloc:
            raise ValueError("expected an http(s) URL")
        _check_port(value)
        return value


class ChatSettings(_Section):
    routes: list[ChatRoute] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> ChatSettings:
        names = [r.name for r in self.routes]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"duplicate route names: {sorted(dupes)}")
        return self


class RulesSettings(_Section):
    paths: list[str] = Field(default_factory=list)  # empty: the shipped rules/ pack
    local_dir: str = ""  # overrides, e.g. /etc/guard/local.d; shipped files stay untouched
    policy: str = ""  # empty: the shipped rules/policy.yaml
    hash_key: str = ""  # HMAC key for finding hashes; empty: generated under data_dir
    max_scan_chars: int = 20_000_000


class ExtractSettings(_Section):
    """Reading content out of attachments. OCR reads text drawn in images and scanned PDFs."""

    ocr: bool | None = None  # None: on when the `tesseract` binary is found (check-config says which)
    ocr_timeout_s: float = Field(default=15.0, gt=0)  # per message (all its images); a timeout holds it
    ocr_max_pixels: int = Field(default=40_000_000, gt=0)  # larger images are UNSCANNABLE (bombs)
    ocr_min_pixels: int = Field(default=40_000, ge=0)  # smaller ones (logos, icons) are not read


class ReviewUser(_Section):
    name: str
    password_hash: str
    role: Literal["viewer", "reviewer", "admin"] = "viewer"
    totp_secret: str = ""


class ApiToken(_Section):
    name: str
    token_sha256: str  # hex SHA-256 of the bearer token; the token itself is not stored
    role: Literal["agent", "viewer", "reviewer", "admin"] = "agent"


class ReviewSettings(_Section):
    users: list[ReviewUser] = Field(default_factory=list)
    api_tokens: list[ApiToken] = Field(default_factory=list)
    require_totp: bool = False
    four_eyes: bool = False
    session_minutes: int = 30
    secure_cookies: bool = True
    lockout_after: int = 5
    check_api_open_on_loopback: bool = True


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "plain"] = "json"


class Settings(BaseSettings):
    """All configuration. Sections mirror the TOML file."""

    model_config = SettingsConfigDict(
        env_prefix="GUARD_",
        env_nested_delimiter="__",
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    data_dir: str = "var"
    org: OrgSettings = Field(default_factory=OrgSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    rules: RulesSettings = Field(default_factory=RulesSettings)
    extract: ExtractSettings = Field(default_factory=ExtractSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    log: LogSettings = Field(default_factory=LogSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment wins over the file, which is passed in as init values.
        return (env_settings, init_settings)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    def anchored(self, base: Path) -> Settings:
        """These settings with every relative path made absolute against `base`."""

        def path(value: str) -> str:
            return value if not value or Path(value).is_absolute() else str(base / value)

        url = self.store.url
        if url.startswith("sqlite:"):
            rel = urlsplit(url).path[1:]  # sqlite:///var/guard.db -> var/guard.db
            if rel and not Path(rel).is_absolute():
                url = "sqlite:///" + str(base / rel)
        return self.model_copy(
            update={
                "data_dir": path(self.data_dir),
                "smtp": self.smtp.model_copy(
                    update={"tls_cert": path(self.smtp.tls_cert), "tls_key": path(self.smtp.tls_key)}
                ),
                "store": self.store.model_copy(update={"url": url}),
                "rules": self.rules.model_copy(
                    update={
                        "paths": [path(p) for p in self.rules.paths],
                        "local_dir": path(self.rules.local_dir),
                        "policy": path(self.rules.policy),
                    }
                ),
            }
        )


def _format_errors(err: ValidationError, origin: str) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{origin}: {key}: {msg}")
    return "\n".join(lines)


def load_settings(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Build the settings from an optional TOML file, the environment and overrides."""
    data: dict[str, Any] = {}
    origin = "defaults+environment"
    if path is not None:
        origin = str(path)
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    for key, value in overrides.items():
        data[key] = value
    _check_environment(origin)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, origin)) from None
    except SettingsError as exc:  # e.g. a GUARD_… variable holding malformed JSON
        field = str(exc).split('field "', 1)[-1].split('"', 1)[0]
        names = sorted(k for k in os.environ if k.upper().startswith(f"GUARD_{field.upper()}"))
        raise ConfigError(
            f"environment: {', '.join(names) or 'GUARD_' + field.upper()}: not valid JSON "
            f"(lists and tables are given as JSON)"
        ) from None
    return settings if path is None else settings.anchored(Path(path).resolve().parent)


def _check_environment(origin: str) -> None:
    """A GUARD_… variable that names no setting is a typo: say so rather than ignore it."""
    sections = {name.upper(): info for name, info in Settings.model_fields.items()}
    unknown = []
    for key in os.environ:
        if not key.upper().startswith("GUARD_"):
            continue
        parts = key[len("GUARD_") :].upper().split("__")
        top = parts[0]
        if top not in sections:
            unknown.append(key)
            continue
        annotation = sections[top].annotation
        nested = len(parts) > 1 and isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if nested and parts[1].lower() not in annotation.model_fields:  # type: ignore[union-attr]
            unknown.append(key)
    if unknown:
        raise ConfigError("; ".join(f"environment: {k}: unknown setting" for k in sorted(unknown)))
