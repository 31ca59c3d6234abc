"""A loopback fake of OpenAI's Realtime GA API (REST client secrets, WebSocket, WebRTC calls).

    from tests.fake_openai import FakeOpenAI, Script, Turn, OnSpeech, Say, FunctionCall

See README.md in this folder for the API and examples.
"""

from .audio import sine_pcm16
from .faults import Fault
from .recording import ConnectionRecord
from .script import (
    Fail,
    FunctionCall,
    OnResponseCreate,
    OnSpeech,
    OnUserText,
    Say,
    Script,
    Turn,
)
from .server import FakeOpenAI

__all__ = [
    "ConnectionRecord",
    "Fail",
    "FakeOpenAI",
    "Fault",
    "FunctionCall",
    "OnResponseCreate",
    "OnSpeech",
    "OnUserText",
    "Say",
    "Script",
    "Turn",
    "sine_pcm16",
]
