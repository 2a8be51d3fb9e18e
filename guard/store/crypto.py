"""Encryption at rest for quarantined content: AES-256-GCM with a key id on every row.

Keys come from `store.keys` ({"key-id": "<base64 of 32 bytes>"}); `store.active_key` (or the
first key listed) encrypts new rows, every listed key decrypts, so keys rotate by adding a
new one, making it active and keeping the old one until its rows have expired. With no keys
configured, one is generated once into `<data_dir>/store.keys` (mode 0600) so a first try
works; several instances sharing PostgreSQL must be given the same keys in config.

The row id is bound as associated data, so a ciphertext moved to another row fails to open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from guard.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from guard.config import Settings

KEY_FILE = "store.keys"
_NONCE = 12


def new_key() -> str:
    """A fresh key, base64 encoded, for `store.keys`."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


class Keyring:
    """Named AEAD keys: one encrypts, all decrypt."""

    def __init__(self, keys: dict[str, bytes], active: str) -> None:
        if not keys:
            raise ConfigError("store.keys: no encryption key")
        if active not in keys:
            raise ConfigError(f"store.active_key: {active!r} is not one of store.keys")
        for key_id, key in keys.items():
            if len(key) != 32:
                raise ConfigError(f"store.keys.{key_id}: expected 32 bytes (base64), got {len(key)}")
        self._aead = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._raw = dict(keys)
        self.active = active

    @classmethod
    def from_settings(cls, settings: Settings, *, create: bool = True) -> Keyring:
        """The configured keys, else the generated key file (made now unless `create` is False:
        only `guard serve` makes one; other commands refuse, saying where they looked)."""
        conf = settings.store
        if conf.keys:
            keys = {key_id: _decode(key_id, value) for key_id, value in conf.keys.items()}
            return cls(keys, conf.active_key or next(iter(keys)))
        path = settings.data_path / KEY_FILE
        if not create and not path.exists():
            raise ConfigError(
                f"{path.absolute()}: no store key file there and store.keys is empty; "
                "only `guard serve` creates one (check --config and data_dir)"
            )
        keys = _load_or_create_key_file(path)
        return cls(keys, conf.active_key or next(iter(keys)))

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._aead)

    def encrypt(self, plaintext: bytes, aad: str) -> tuple[str, bytes]:
        """Return (key id, nonce + ciphertext + tag)."""
        nonce = secrets.token_bytes(_NONCE)
        return self.active, nonce + self._aead[self.active].encrypt(nonce, plaintext, aad.encode("utf-8"))

    def decrypt(self, key_id: str, blob: bytes, aad: str) -> bytes:
        aead = self._aead.get(key_id)
        if aead is None:
            raise StoreError(f"content of {aad} is encrypted with key {key_id!r}, which is not configured")
        try:
            return aead.decrypt(bytes(blob[:_NONCE]), bytes(blob[_NONCE:]), aad.encode("utf-8"))
        except InvalidTag:
            raise StoreError(f"content of {aad} failed its integrity check") from None

    def derive(self, purpose: str) -> bytes:
        """A stable secret for another purpose (session signing), from the first configured key.

        Derived from the first listed key, not the active one, so rotating the encryption
        key does not log every reviewer out; instances sharing keys share sessions.
        """
        first = next(iter(self._raw))
        return hmac.new(self._raw[first], b"guard/" + purpose.encode("utf-8"), hashlib.sha256).digest()


def _decode(key_id: str, value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"store.keys.{key_id}: not valid base64") from None


def _load_or_create_key_file(path: Path) -> dict[str, bytes]:
    """Read the generated key file, creating it (0600, exclusive) on first use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Write a temp file, then link it into place: atomic, and a concurrent creator loses cleanly.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"k" + secrets.token_hex(4): new_key()}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(f"{path}: key file must not be readable by group or others (mode {mode:o})")
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        raise ConfigError(f"{path}: unreadable key file") from None
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{path}: expected a JSON object of key id -> base64 key")
    return {str(k): _decode(str(k), str(v)) for k, v in data.items()}
