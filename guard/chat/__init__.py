"""The chat-webhook proxy: `POST /hooks/{name}` per configured route.

routes.py     the aiohttp handler: request -> OutboundMessage -> Verdict -> reply
payload.py    body parsing (JSON, Slack/Mattermost form `payload=`), strict and value-free errors
dialects.py   per service: text to scan, refusal and "looks like success" reply shapes
forwarder.py  WebhookForwarder: one shared client session, replies passed back byte for byte
"""
