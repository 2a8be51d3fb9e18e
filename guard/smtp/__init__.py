"""The SMTP relay: aiosmtpd in the guard's event loop, inspecting every message before it leaves.

server.py     start_smtp(): listeners (plain/STARTTLS and implicit TLS), one GuardSMTP per connection
handler.py    aiosmtpd hooks: EHLO extensions, relay permission, AUTH, DATA -> inspect -> dispatch
dispatch.py   split delivery per audience: relay, redact+relay, quarantine, block -> Outcome
forwarder.py  outbound delivery: SmtpForwarder (aiosmtplib, pooled) or MaildirForwarder
replies.py    the one mapping from outcomes and errors to SMTP replies
trace.py      queue ids and the Received: trace header
auth.py       SMTP AUTH users (argon2 / bcrypt hashes)
tls.py        server TLS context and a self-signed pair for a first try
"""
