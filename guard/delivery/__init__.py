"""Outbound delivery, shared by the adapters and the quarantine release.

base.py     Forwarder[E, R] interface; Mail/Receipt, Post/UpstreamReply
smtp.py     SmtpForwarder (aiosmtplib, pooled), MaildirForwarder, build_mail_forwarder
webhook.py  WebhookForwarder (one aiohttp ClientSession), join_upstream
"""

from guard.delivery.base import Forwarder, Mail, MailForwarder, Post, Receipt, UpstreamReply

__all__ = ["Forwarder", "Mail", "MailForwarder", "Post", "Receipt", "UpstreamReply"]
