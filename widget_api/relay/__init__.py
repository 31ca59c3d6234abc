"""The Realtime WebSocket relay (`/ws/realtime/<companyId>`), free of Flask.

`serve_conversation(channel, setup, mode)` runs one conversation: the handler passes the page's
socket behind the `ClientChannel` seam and a `ConversationSetup` built from the app's services.
"""

from widget_api.relay.channel import ChannelClosed, ClientChannel, SocketChannel
from widget_api.relay.contracts import ConversationLog, NullConversationLog, RelayLimits
from widget_api.relay.serve import ConversationSetup, serve_conversation

__all__ = [
    "ChannelClosed",
    "ClientChannel",
    "ConversationLog",
    "ConversationSetup",
    "NullConversationLog",
    "RelayLimits",
    "SocketChannel",
    "serve_conversation",
]
