"""Who is on the other end of an SMTP session: the peer's IP, normalised (IPv4-mapped IPv6
addresses become IPv4, zone ids are dropped), and whether it is loopback."""

from __future__ import annotations

import ipaddress

from aiosmtpd.smtp import Session


def peer_ip(session: Session) -> str:
    peer = session.peer
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return "unknown"


def address_of(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_loopback(value: str) -> bool:
    ip = address_of(value)
    return ip is not None and ip.is_loopback
