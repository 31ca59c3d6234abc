"""The Realtime WebSocket relay (`/ws/realtime/<companyId>`), free of Flask.

`serve.serve_conversation(channel, setup, mode)` runs one conversation: the handler passes the
page's socket behind the `channel.ClientChannel` seam and a `serve.ConversationSetup` built from
the app's services. (No re-exports here: the local engine imports `relay.contracts`, and the
relay imports the local engine.)
"""
