"""Outgoing webhooks: events written to an outbox with the change they report, then delivered.

`events` names and shapes the events, `outbox` writes and claims rows, `signing` signs them
(Standard Webhooks), `sender` delivers them with retries, `runner` runs the sender in a server.
"""
