"""The SMTP relay: aiosmtpd in the guard's event loop, inspecting every message before it leaves.

server.py     start_smtp(): listeners (plain/STARTTLS and implicit TLS)
session.py    GuardSMTP: one per connection (clear-text AUTH on loopback, error budget)
handler.py    aiosmtpd hooks: EHLO extensions, relay permission, AUTH; DATA -> MailOrigin ->
              actions.inspect -> actions.act (guard.actions: relay, redact, quarantine, block)
replies.py    the one mapping from outcomes and errors to SMTP replies
peers.py      the peer's address, normalised; loopback test
trace.py      queue ids and the Received: trace header
auth.py       SMTP AUTH users (argon2 / bcrypt hashes)
tls.py        server TLS context and a self-signed pair for a first try

Delivery (SmtpForwarder, MaildirForwarder) lives in guard.delivery, shared with the release.
"""
