"""The conversation's items as the server keeps them, and validation of client-made items."""

from __future__ import annotations

import copy
from typing import Any

from .protocol import new_id


def _fail(code: str, message: str, param: str | None = None) -> Exception:
    from .session import ClientError  # local import: session imports this module

    return ClientError(code, message, param)


class Items:
    """Items in order, with the audio length of assistant audio items (for truncation)."""

    def __init__(self) -> None:
        self._items: dict[str, dict[str, Any]] = {}
        self._audio_ms: dict[str, int] = {}
        self._outputs: dict[str, str] = {}  # call_id -> function_call_output.output
        self._calls: set[str] = set()

    @property
    def last_id(self) -> str | None:
        return next(reversed(self._items), None)

    def add(self, item: dict[str, Any]) -> None:
        self._items[item["id"]] = copy.deepcopy(item)
        if item.get("type") == "function_call":
            self._calls.add(item["call_id"])
        elif item.get("type") == "function_call_output":
            self._outputs[item["call_id"]] = item["output"]

    def upsert(self, item: dict[str, Any], *, audio_ms: int) -> str | None:
        """Add or finalize a model item; returns the id of the item before it."""
        ids = list(self._items)
        if item["id"] in self._items:
            index = ids.index(item["id"])
            previous = ids[index - 1] if index else None
        else:
            previous = ids[-1] if ids else None
        self.add(item)
        self._audio_ms[item["id"]] = audio_ms
        return previous

    def set_audio_ms(self, item_id: str, audio_ms: int) -> None:
        self._audio_ms[item_id] = audio_ms

    def get(self, item_id: str) -> dict[str, Any] | None:
        item = self._items.get(item_id)
        return copy.deepcopy(item) if item else None

    def delete(self, item_id: str) -> None:
        self._items.pop(item_id, None)

    def has_call(self, call_id: str) -> bool:
        return call_id in self._calls

    def output_for(self, call_id: str | None) -> str | None:
        return self._outputs.get(call_id) if call_id else None

    def audio_ms(self, item_id: str) -> int | None:
        return self._audio_ms.get(item_id)


USER_CONTENT = frozenset({"input_text", "input_audio", "input_image"})


def validate_new_item(item: Any, items: Items) -> dict[str, Any]:
    """Check a `conversation.item.create` item and return it as stored (id, status, object)."""
    if not isinstance(item, dict):
        raise _fail("missing_required_parameter", "Missing required parameter: 'item'.", "item")
    kind = item.get("type")
    if kind == "message":
        _check_message(item)
    elif kind == "function_call_output":
        for key in ("call_id", "output"):
            if not isinstance(item.get(key), str):
                raise _fail(
                    "missing_required_parameter",
                    f"Missing required parameter: 'item.{key}'.",
                    f"item.{key}",
                )
        if not items.has_call(item["call_id"]):
            raise _fail(
                "invalid_tool_call_id",
                f"Tool call ID '{item['call_id'][:64]}' not found in conversation.",
                "item.call_id",
            )
    elif kind == "function_call":
        for key in ("call_id", "name", "arguments"):
            if not isinstance(item.get(key), str):
                raise _fail(
                    "missing_required_parameter",
                    f"Missing required parameter: 'item.{key}'.",
                    f"item.{key}",
                )
    else:
        raise _fail(
            "invalid_value",
            "Invalid value for 'item.type'. Supported values are: "
            "'message', 'function_call', 'function_call_output'.",
            "item.type",
        )
    stored = dict(item)
    if "id" in stored and (not isinstance(stored["id"], str) or items.get(stored["id"])):
        raise _fail("invalid_value", "Invalid 'item.id': duplicate or not a string.", "item.id")
    stored.setdefault("id", new_id("item"))
    stored.setdefault("object", "realtime.item")
    stored["status"] = "completed"
    return stored


def _check_message(item: dict[str, Any]) -> None:
    role = item.get("role")
    if role not in ("user", "assistant", "system"):
        raise _fail(
            "invalid_value",
            "Invalid value for 'item.role'. Supported values are: 'user', 'assistant', 'system'.",
            "item.role",
        )
    content = item.get("content")
    if not isinstance(content, list) or not content:
        raise _fail(
            "missing_required_parameter",
            "Missing required parameter: 'item.content'.",
            "item.content",
        )
    allowed = {
        "user": USER_CONTENT,
        "system": frozenset({"input_text"}),
        "assistant": frozenset({"output_text"}),
    }[role]
    for i, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in allowed:
            raise _fail(
                "invalid_value",
                f"Invalid value for 'item.content[{i}].type' with role '{role}'. "
                "Supported values are: " + ", ".join(f"'{k}'" for k in sorted(allowed)) + ".",
                f"item.content[{i}].type",
            )


def user_text(item: dict[str, Any]) -> str | None:
    """The text of a user `input_text` message, or None for any other item."""
    if item.get("type") != "message" or item.get("role") != "user":
        return None
    texts = [p.get("text", "") for p in item["content"] if p.get("type") == "input_text"]
    return " ".join(texts) if texts else None


def require_item(event: dict[str, Any], items: Items) -> str:
    item_id = event.get("item_id")
    if not isinstance(item_id, str) or items.get(item_id) is None:
        raise _fail("item_not_found", "Item with the given item_id does not exist.", "item_id")
    return item_id


def check_truncate(event: dict[str, Any], items: Items) -> tuple[str, int]:
    """Validate a truncate: an assistant audio item, content 0, within the audio sent."""
    item_id = require_item(event, items)
    item = items.get(item_id) or {}
    if item.get("role") != "assistant":
        raise _fail("invalid_value", "Only assistant messages can be truncated.", "item_id")
    if event.get("content_index", 0) != 0:
        raise _fail(
            "invalid_value", "Invalid 'content_index': only 0 is supported.", "content_index"
        )
    end_ms = event.get("audio_end_ms")
    if not isinstance(end_ms, int) or isinstance(end_ms, bool) or end_ms < 0:
        raise _fail(
            "invalid_value", "Invalid 'audio_end_ms': expected an integer >= 0.", "audio_end_ms"
        )
    length = items.audio_ms(item_id) or 0
    if end_ms > length:
        raise _fail(
            "invalid_value",
            f"Audio content of {length}ms is already shorter than {end_ms}ms.",
            "audio_end_ms",
        )
    return item_id, end_ms
