"""Which events the page may send through the relay, rebuilt from known fields only.

The page must not be able to change the session (instructions, tools, voice) or smuggle in
assistant or tool items: only the visitor's own input passes, and `response.create` is sent
bare so the server's session configuration always applies.
"""

from __future__ import annotations

from typing import Any

_BARE = {"input_audio_buffer.commit", "input_audio_buffer.clear", "response.cancel"}


def sanitize_client_event(
    event: dict[str, Any] | None, max_text_chars: int
) -> dict[str, Any] | None:
    """The event to forward upstream, or None when the page may not send it."""
    if not event:
        return None
    kind = event.get("type")
    if kind in _BARE:
        return {"type": kind}
    if kind == "response.create":
        return {"type": "response.create"}
    if kind == "conversation.item.create":
        text = user_text(event)
        if text is None or len(text) > max_text_chars:
            return None
        return {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            },
        }
    return None


def user_text(event: dict[str, Any]) -> str | None:
    """The text of a `conversation.item.create` user message, or None for anything else."""
    item = event.get("item")
    if not isinstance(item, dict) or item.get("type") != "message" or item.get("role") != "user":
        return None
    content = item.get("content")
    if not isinstance(content, list):
        return None
    parts = [
        part.get("text")
        for part in content
        if isinstance(part, dict) and part.get("type") == "input_text"
    ]
    texts = [p for p in parts if isinstance(p, str)]
    if not texts or len(texts) != len(parts):
        return None
    text = " ".join(texts).strip()
    return text or None
