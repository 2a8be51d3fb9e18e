"""TLS for the SMTP listener: the server context from `smtp.tls_cert`/`smtp.tls_key`, and a
self-signed pair for a first try (`generate_self_signed`).

The context follows PROTOCOLS.md §1.4 (6): `Purpose.CLIENT_AUTH` with no client-certificate
requirement, otherwise aiosmtpd warns and some clients cannot connect.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from pathlib import Path
from typing import TYPE_CHECKING

from guard.errors import ConfigError

if TYPE_CHECKING:
    from guard.config import SmtpSettings


def server_context(cert: str | os.PathLike[str], key: str | os.PathLike[str]) -> ssl.SSLContext:
    """A server-side context for STARTTLS and implicit TLS (TLS 1.2 or newer)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(os.fspath(cert), os.fspath(key))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"smtp.tls_cert/smtp.tls_key: cannot load the pair ({type(exc).__name__}: {exc})"
        ) from None
    return ctx


def smtp_tls_context(s: SmtpSettings) -> ssl.SSLContext | None:
    """The listener's TLS context from `smtp.tls_cert`/`smtp.tls_key` (None: no TLS), after the
    checks that tie the TLS settings together; `guard check-config` runs the same."""
    if bool(s.tls_cert) != bool(s.tls_key):
        raise ConfigError("smtp.tls_cert/smtp.tls_key: set both or neither")
    tls_context = server_context(s.tls_cert, s.tls_key) if s.tls_cert else None
    if s.implicit_tls_listen and tls_context is None:
        raise ConfigError("smtp.implicit_tls_listen: needs smtp.tls_cert and smtp.tls_key")
    if s.require_starttls and tls_context is None:
        raise ConfigError("smtp.require_starttls: needs smtp.tls_cert and smtp.tls_key")
    return tls_context


def generate_self_signed(
    directory: str | os.PathLike[str], hostname: str = "localhost", days: int = 365
) -> tuple[Path, Path]:
    """Write `cert.pem` and `key.pem` (mode 0600) for `hostname` into `directory`; return their paths.

    For a first try only: clients must be told not to verify it (or trust this file).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    alt: list[x509.GeneralName] = [x509.DNSName(hostname)]
    if hostname == "localhost":
        alt.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        alt.append(x509.IPAddress(ipaddress.ip_address("::1")))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = out / "cert.pem", out / "key.pem"
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_bytes)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
