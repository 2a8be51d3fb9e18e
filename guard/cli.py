"""`guard` command line: serve, scan, quarantine, audit, check-config.

Each sub-command module registers its own parser; this file only composes them.
Exit codes: 0 ok, 1 findings (scan) or refused action, 2 error (bad config, bad input).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import socket
import sys
from collections.abc import Sequence

from guard import __version__
from guard.config import Settings, load_settings, split_listen
from guard.errors import ConfigError, GuardError, RuleError


def settings_from_args(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "config", None))


def add_config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="TOML settings file (default: embedded defaults)")


def _cmd_serve(args: argparse.Namespace) -> int:
    from guard.app import build_services, serve_forever
    from guard.checks import check_settings

    settings = settings_from_args(args)
    check_settings(settings, rules=False)  # the rules are compiled (and checked) by build_services
    try:
        if args.workers and args.workers > 1:
            from guard.workers import run_workers

            _probe_listeners(settings)
            return run_workers(settings, args.workers, config_path=args.config)
        services = build_services(settings)
        asyncio.run(serve_forever(services))
    except OSError as exc:
        if exc.errno not in _BIND_ERRORS:
            raise
        print(f"guard: {_bind_error(settings, exc)}", file=sys.stderr)
        return 2
    return 0


_BIND_ERRORS = (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES)


def _bind_error(settings: Settings, exc: OSError) -> str:
    """One line naming the setting and the address that could not be bound."""
    from guard.checks import listen_keys

    text = str(exc)
    reason = {errno.EADDRINUSE: "address already in use", errno.EACCES: "permission denied"}.get(
        exc.errno or 0, exc.strerror or "cannot bind"
    )
    keys = listen_keys(settings)
    for exact in (True, False):
        for key, value in keys.items():
            host, port = split_listen(value)
            if port and ((exact and f"'{host}', {port})" in text) or (not exact and f", {port})" in text)):
                return f"{key}: cannot listen on {value}: {reason}"
    return f"cannot listen on {', '.join(f'{k} = {v}' for k, v in keys.items())}: {reason}"


def _probe_listeners(settings: Settings) -> None:
    """Bind each configured port once (as the workers will, SO_REUSEPORT) and let go, so a busy
    port is one clear error here, not a crash loop of workers."""
    from guard.checks import listen_keys

    for value in listen_keys(settings).values():
        host, port = split_listen(value)
        if port == 0:
            continue
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            try:
                sock.bind((host, port))
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, f"('{host}', {port})") from None


def _cmd_check_config(args: argparse.Namespace) -> int:
    from guard.checks import check_settings
    from guard.inspection.ocr import ocr_from_settings

    settings = settings_from_args(args)
    inspector = check_settings(settings)
    assert inspector is not None
    print(
        f"config ok: {inspector.rule_count} detectors, {inspector.policy_rows} policy rows, "
        f"{len(settings.chat.routes)} chat routes, store {settings.store.url.split(':', 1)[0]}, "
        f"data_dir {settings.data_path.absolute()}"
    )
    print(f"ocr {ocr_from_settings(settings.extract)[1]}")
    return 0


def _cmd_tls_selfsigned(args: argparse.Namespace) -> int:
    from guard.smtp.tls import generate_self_signed

    cert, key = generate_self_signed(args.directory, args.hostname, args.days)
    print(f"wrote {cert} and {key} (self-signed for {args.hostname}, {args.days} days)")
    print(f'set them in the config:\n[smtp]\ntls_cert = "{cert}"\ntls_key = "{key}"')
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="guard",
        description="Outbound Guard: inspect outbound mail and chat for sensitive customer data.",
    )
    parser.add_argument("--version", action="version", version=f"guard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the SMTP relay and the HTTP listener")
    add_config_arg(serve)
    serve.add_argument("--workers", type=int, default=1, help="processes sharing the listening sockets")
    serve.set_defaults(func=_cmd_serve)

    from guard import scan_cli

    scan_cli.register(sub)

    tls = sub.add_parser(
        "tls-selfsigned", help="write a self-signed certificate and key for a first try of STARTTLS"
    )
    tls.add_argument("directory", nargs="?", default="var/tls", help="where to write cert.pem and key.pem")
    tls.add_argument("--hostname", default="localhost")
    tls.add_argument("--days", type=int, default=365)
    tls.set_defaults(func=_cmd_tls_selfsigned)

    check = sub.add_parser("check-config", help="validate settings, rules and policy, then exit")
    add_config_arg(check)
    check.set_defaults(func=_cmd_check_config)

    try:
        from guard.review import cli as review_cli
    except ImportError:  # pragma: no cover - the review package is optional only during development
        review_cli = None  # type: ignore[assignment]
    if review_cli is not None:
        review_cli.register(sub, add_config_arg)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except (ConfigError, RuleError) as exc:
        text = str(exc)
        sep = "\n" if "\n" in text else " "  # one problem: one line; several: one per line
        print(f"guard: configuration error:{sep}{text}", file=sys.stderr)
        return 2
    except GuardError as exc:
        print(f"guard: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
