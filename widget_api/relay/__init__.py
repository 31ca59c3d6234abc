"""The Realtime WebSocket relay (`/ws/realtime/<companyId>`), free of Flask.

`serve.serve_conversation(page, setup, mode, hub)` runs one conversation: the handler passes the
page's socket (`page_link.PageSocket`), a `serve.ConversationSetup` built from the app's services
and the process's `hub.RelayHub`. A relayed conversation runs on the hub's single event loop
(`session.RelaySession`, `page_link.PageLink`, `upstream.UpstreamLink`); the local text engine
keeps simple-websocket's blocking API (`channel.ClientChannel`). (No re-exports here: the local
engine imports `relay.contracts`, and the relay imports the local engine.)
"""
