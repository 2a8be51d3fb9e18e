"""`guard quarantine …`, `guard audit …`, and helpers that make password hashes and API tokens.

Whoever can run these with the config can read the store keys, so the CLI acts as an admin;
the audit log records it as `cli:<os user>`. `show` masks values unless `--reveal` is given
(and a reveal is audited). Exit codes: 0 ok, 1 refused (wrong state, four-eyes, failed
delivery, audit problems), 2 error (bad config, unknown id).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import hashlib
import json
import secrets
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from guard.errors import Conflict

if TYPE_CHECKING:
    from guard.config import Settings
    from guard.review.service import ReviewService

AddConfig = Callable[[argparse.ArgumentParser], None]


def _actor() -> Any:
    from guard.review.service import Actor

    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return Actor(name=user, role="admin", via="cli")


def _run(args: argparse.Namespace, work: Callable[[ReviewService, Settings], Awaitable[int]]) -> int:
    from guard.checks import existing_store
    from guard.cli import settings_from_args
    from guard.review.service import ReviewService
    from guard.store import open_store

    settings = settings_from_args(args)
    existing_store(settings)  # only `guard serve` creates a store or a key

    async def main() -> int:
        store = open_store(settings)
        await store.open()
        svc = ReviewService(settings, store)
        try:
            return await work(svc, settings)
        finally:
            await svc.releaser.close()
            await store.close()

    try:
        return asyncio.run(main())
    except Conflict as exc:
        print(f"guard: refused: {exc}", file=sys.stderr)
        return 1


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


# -- quarantine ------------------------------------------------------------------------------
def _cmd_list(args: argparse.Namespace) -> int:
    async def work(svc: ReviewService, settings: Settings) -> int:
        items = await svc.store.list(
            status=args.status, channel=args.channel, type=args.type, limit=args.limit, offset=args.offset
        )
        if args.format == "json":
            print(json.dumps([s.as_dict() for s in items], indent=2))
            return 0
        rows = [
            [
                s.id,
                s.status.value,
                s.channel,
                s.created.strftime("%Y-%m-%d %H:%M"),
                s.severity,
                ",".join(f"{t}:{n}" for t, n in s.types.items()),
                (s.sender or "-") + " -> " + (", ".join(s.recipients) or (s.route or "-")),
                s.subject[:40],
            ]
            for s in items
        ]
        print(
            _table(
                rows,
                ["ID", "STATUS", "CHANNEL", "CREATED (UTC)", "SEVERITY", "TYPES", "FROM -> TO", "SUBJECT"],
            )
        )
        return 0

    return _run(args, work)


def _cmd_show(args: argparse.Namespace) -> int:
    from guard.review import present

    async def work(svc: ReviewService, settings: Settings) -> int:
        actor = _actor()
        item = await svc.view(args.id, actor) if args.reveal else await svc.store.get(args.id)
        if args.format == "json":
            print(json.dumps(present.item_dict(item, reveal=args.reveal), indent=2, default=str))
            return 0
        s = item.summary
        print(
            f"{s.id}  {s.status.value}  {s.channel}  severity {s.severity}  created {s.created.isoformat()}"
        )
        print(f"from: {s.sender or '-'}  to: {', '.join(s.recipients) or '-'}  route: {s.route or '-'}")
        print(f"subject: {item.subject if args.reveal else s.subject}")
        print(f"verdict: {s.explanation}  (rows: {', '.join(item.rows) or '-'})")
        if s.approvals:
            print(f"approved by: {', '.join(s.approvals)}")
        if s.last_error:
            print(f"last error: {s.last_error} (attempts {s.attempts})")
        print("\nfindings:")
        for f in present.finding_rows(item):
            print(
                f"  {f['type']:<16} {f['preview']:<24} score {f['score']}  in {f['where']}  ({f['detector']})"
            )
        for a in present.attachments(item):
            print(f"attachment: {a['filename']} {a['content_type']} {a['size']} bytes")
        for view in present.segment_views(item, reveal=args.reveal):
            print(f"\n--- {view.source} ({view.kind}) ---")
            print(view.plain())
        if s.purged:
            print("\n(content erased by retention)")
        return 0

    return _run(args, work)


def _cmd_release(args: argparse.Namespace) -> int:
    async def work(svc: ReviewService, settings: Settings) -> int:
        outcome = await svc.release(args.id, _actor(), args.reason or "")
        if outcome.delivered:
            print(f"{outcome.summary.id} released")
            return 0
        print(
            f"guard: {outcome.summary.id} not delivered ({outcome.error}); it is release_failed and can be "
            "released again",
            file=sys.stderr,
        )
        return 1

    return _run(args, work)


def _cmd_reject(args: argparse.Namespace) -> int:
    async def work(svc: ReviewService, settings: Settings) -> int:
        sent = await svc.reject(args.id, _actor(), args.reason or "", notify=args.notify)
        print(f"{args.id.upper()} rejected" + (" (sender notified)" if sent else ""))
        return 0

    return _run(args, work)


def _cmd_approve(args: argparse.Namespace) -> int:
    async def work(svc: ReviewService, settings: Settings) -> int:
        s = await svc.approve(args.id, _actor())
        print(f"{s.id} approved by {', '.join(s.approvals)}")
        return 0

    return _run(args, work)


def _cmd_note(args: argparse.Namespace) -> int:
    async def work(svc: ReviewService, settings: Settings) -> int:
        await svc.note(args.id, _actor(), args.text)
        return 0

    return _run(args, work)


def _cmd_purge(args: argparse.Namespace) -> int:
    async def work(svc: ReviewService, settings: Settings) -> int:
        n = await svc.purge(_actor(), args.older_than_days)
        print(f"{n} items expired or erased")
        return 0

    return _run(args, work)


# -- audit -------------------------------------------------------------------------------------
def _cmd_audit_verify(args: argparse.Namespace) -> int:
    async def work(svc: ReviewService, settings: Settings) -> int:
        report = await svc.verify_audit(_actor())
        if report.ok:
            print(f"audit log ok: {report.entries} entries, head {report.head_seq} {report.head_hash}")
            return 0
        print(f"audit log FAILED verification ({len(report.problems)} problems, {report.entries} entries):")
        for problem in report.problems:
            print(f"  {problem}")
        return 1

    return _run(args, work)


def _cmd_audit_list(args: argparse.Namespace) -> int:
    async def work(svc: ReviewService, settings: Settings) -> int:
        for e in await svc.store.audit_entries(item_id=args.item, limit=args.limit):
            print(json.dumps(e.as_dict(), default=str))
        return 0

    return _run(args, work)


# -- credentials helpers ------------------------------------------------------------------------
def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("guard: passwords differ")
    return first


def _cmd_hash_password(args: argparse.Namespace) -> int:
    from guard.review.auth import hash_password

    password = _read_password(args)
    if len(password) < 8:
        print("guard: password must have at least 8 characters", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def _toml(value: str) -> str:
    return json.dumps(value)


def _cmd_user_add(args: argparse.Namespace) -> int:
    from guard.review.auth import hash_password, totp_uri

    password = _read_password(args)
    if len(password) < 8:
        print("guard: password must have at least 8 characters", file=sys.stderr)
        return 2
    lines = [
        "[[review.users]]",
        f"name = {_toml(args.name)}",
        f"password_hash = {_toml(hash_password(password))}",
        f"role = {_toml(args.role)}",
    ]
    if args.totp:
        import base64

        secret = base64.b32encode(secrets.token_bytes(20)).decode("ascii")
        lines.append(f"totp_secret = {_toml(secret)}")
        print(f"# add this to the authenticator app: {totp_uri(secret, args.name)}", file=sys.stderr)
    print("\n".join(lines))
    return 0


def _cmd_token_add(args: argparse.Namespace) -> int:
    token = "gt_" + secrets.token_urlsafe(32)
    print(f"# the token (shown once; give it to the client): {token}", file=sys.stderr)
    print(
        "\n".join(
            [
                "[[review.api_tokens]]",
                f"name = {_toml(args.name)}",
                f"token_sha256 = {_toml(hashlib.sha256(token.encode()).hexdigest())}",
                f"role = {_toml(args.role)}",
            ]
        )
    )
    return 0


def register(subparsers: Any, add_config_arg: AddConfig) -> None:
    """Add the quarantine, audit, user, token and hash-password commands to `guard`."""
    from guard.store.base import Status

    q = subparsers.add_parser("quarantine", help="list, show, release or reject held messages")
    qs = q.add_subparsers(dest="quarantine_command", metavar="ACTION", required=True)

    p = qs.add_parser("list", help="list quarantined items, newest first")
    add_config_arg(p)
    p.add_argument("--status", choices=[s.value for s in Status])
    p.add_argument("--channel", choices=["smtp", "chat", "api"])
    p.add_argument("--type", help="entity type, e.g. CREDIT_CARD")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=_cmd_list)

    p = qs.add_parser("show", help="show one item (values masked unless --reveal)")
    add_config_arg(p)
    p.add_argument("id")
    p.add_argument("--reveal", action="store_true", help="show the found values (audited)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=_cmd_show)

    p = qs.add_parser("release", help="deliver the original message once")
    add_config_arg(p)
    p.add_argument("id")
    p.add_argument("--reason", default="")
    p.set_defaults(func=_cmd_release)

    p = qs.add_parser("reject", help="refuse the message for good")
    add_config_arg(p)
    p.add_argument("id")
    p.add_argument("--reason", default="")
    p.add_argument("--notify", action="store_true", help="tell the sender (mail only)")
    p.set_defaults(func=_cmd_reject)

    p = qs.add_parser("approve", help="approve a high-severity release (four-eyes rule)")
    add_config_arg(p)
    p.add_argument("id")
    p.set_defaults(func=_cmd_approve)

    p = qs.add_parser("note", help="add a note (stored encrypted)")
    add_config_arg(p)
    p.add_argument("id")
    p.add_argument("text")
    p.set_defaults(func=_cmd_note)

    p = qs.add_parser("purge", help="expire old held items and erase old content (retention)")
    add_config_arg(p)
    p.add_argument("--older-than-days", type=int, default=None, help="default: store.retention_days")
    p.set_defaults(func=_cmd_purge)

    a = subparsers.add_parser("audit", help="verify or list the tamper-evident audit log")
    asub = a.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    p = asub.add_parser("verify", help="check the hash chain; exit 1 if an entry was edited or deleted")
    add_config_arg(p)
    p.set_defaults(func=_cmd_audit_verify)
    p = asub.add_parser("list", help="print audit entries as JSON lines")
    add_config_arg(p)
    p.add_argument("--item")
    p.add_argument("--limit", type=int, default=None)
    p.set_defaults(func=_cmd_audit_list)

    p = subparsers.add_parser("hash-password", help="print an argon2 hash for review.users / smtp.users")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=_cmd_hash_password)

    u = subparsers.add_parser("user", help="make review users")
    usub = u.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    p = usub.add_parser("add", help="print a [[review.users]] entry with a password hash")
    p.add_argument("name")
    p.add_argument("--role", choices=["viewer", "reviewer", "admin"], default="viewer")
    p.add_argument("--totp", action="store_true", help="also generate a TOTP secret")
    p.add_argument("--password-stdin", action="store_true")
    p.set_defaults(func=_cmd_user_add)

    t = subparsers.add_parser("token", help="make API bearer tokens")
    tsub = t.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    p = tsub.add_parser("add", help="print a new token and its [[review.api_tokens]] entry")
    p.add_argument("name")
    p.add_argument("--role", choices=["agent", "viewer", "reviewer", "admin"], default="agent")
    p.set_defaults(func=_cmd_token_add)
