"""The Realtime WebSocket relay (`/ws/realtime/<companyId>`), free of Flask.

`serve.serve_conversation(page, setup, mode, hub)` runs one conversation on the worker's event
loop: the WebSocket handler passes the accepted page socket (`page_link.PageLink`), a
`serve.ConversationSetup` built from the app's services and the `hub.RelayHub` whose pool runs
blocking work. A relayed conversation is a `session.RelaySession` between the page and
`upstream.UpstreamLink`; the local text engine is a `local.LocalSession` on the same page socket.
(No re-exports here: the local engine imports `relay.contracts`, and the relay imports the local
engine.)
"""
