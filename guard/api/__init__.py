"""The JSON API under /api/v1 for agents and tools.

auth.py     bearer tokens (sha256 in config, constant-time compare), loopback-open rule
drafts.py   the check request: validated draft -> OutboundMessage
check.py    POST /api/v1/check and the served OpenAPI document GET /api/v1/openapi.yaml
"""
