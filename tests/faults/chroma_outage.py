"""Chroma going away mid-conversation, and coming back.

While it is down: `search_knowledge` answers a `knowledge_unavailable` tool error (never an
HTTP error or a crash), the other tools and the local text engine keep answering, and
`/readyz` is 503 naming the knowledge base. Once it is back, search works again without a
server restart.
"""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from websockets.sync.client import connect

from knowledge.search import VERSION_TTL
from scripts.bench_api import tool_call
from tests.faults.chroma_server import ChromaServer

RECOVERY_SECONDS = 20.0


def _readyz(port: int) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/readyz")
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def _tool(port: int, session: dict[str, str], name: str, args: dict[str, Any]) -> dict[str, Any]:
    """The tool's parsed output (HTTP must be 200 whatever the tool's fate)."""
    status, body, _ms, _t = tool_call(port, session, name, args, uuid.uuid4().hex)
    if status != 200:
        return {"http_status": status, "body": body}
    output: dict[str, Any] = json.loads(body["output"])
    return output


def _outcome(output: dict[str, Any]) -> str:
    if "http_status" in output:
        return f"HTTP {output['http_status']}"
    if "error" in output:
        return str(output["error"].get("code"))
    return "found" if output.get("found") else "ok"


def _text_turn(base_url: str, question: str, timeout: float = 30) -> str:
    """One typed turn through the relay WebSocket (local engine); the answer's text."""
    url = base_url.replace("http://", "ws://") + "/ws/realtime/acme?mode=text"
    content = [{"type": "input_text", "text": question}]
    item = {"type": "message", "role": "user", "content": content}
    with connect(url, origin=base_url, open_timeout=timeout) as ws:  # type: ignore[call-overload]
        ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
        ws.send(json.dumps({"type": "response.create"}))
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            event = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            if event["type"] == "response.output_text.done":
                text = event.get("text", "")
            if event["type"] == "response.done":
                return "answered" if text else "empty answer"
            if event["type"] == "error":
                return f"error {event['error'].get('code')}"
    return "no answer"


def run_chroma_outage(
    base_url: str, session_factory: Callable[[str], dict[str, str]], chroma: ChromaServer
) -> dict[str, Any]:
    """Search, kill Chroma, check every promise, bring it back, search again."""
    port = int(base_url.rsplit(":", 1)[1])
    session = session_factory(f"ws_chroma_{uuid.uuid4().hex[:8]}")
    query = {"query": "How much does the Growth plan cost?"}
    before = {
        "search": _outcome(_tool(port, session, "search_knowledge", query)),
        "readyz": _readyz(port)[0],
    }
    chroma.kill()
    # Search answers from its last verified view of the collection for up to VERSION_TTL (the
    # version marker is re-read at most that often); after it, the outage shows.
    time.sleep(VERSION_TTL + 0.2)
    ready_status, ready_body = _readyz(port)
    email = f"chroma.{uuid.uuid4().hex[:8]}@example.com"
    lead = {"name": "Outage Visitor", "email": email, "interest": "Pricing"}
    during = {
        "search": _outcome(_tool(port, session, "search_knowledge", query)),
        "get_demo_clip": _outcome(_tool(port, session, "get_demo_clip", {"topic": "AI agent"})),
        "log_lead": _outcome(_tool(port, session, "log_lead", lead)),
        "text_conversation": _text_turn(base_url, "What does the Growth plan cost?"),
        "readyz": ready_status,
        "readyz_checks": ready_body.get("checks", {}),
    }
    chroma.start()
    deadline = time.monotonic() + RECOVERY_SECONDS
    after: dict[str, Any] = {}
    while time.monotonic() < deadline:
        after = {
            "search": _outcome(_tool(port, session, "search_knowledge", query)),
            "readyz": _readyz(port)[0],
        }
        if after == {"search": "found", "readyz": 200}:
            break
        time.sleep(0.5)
    survived = (
        before == {"search": "found", "readyz": 200}
        and during["search"] == "knowledge_unavailable"
        and during["get_demo_clip"] in ("found", "ok")
        and during["log_lead"] == "ok"
        and during["text_conversation"] == "answered"
        and during["readyz"] == 503
        and during["readyz_checks"].get("knowledge") == "unavailable"
        and during["readyz_checks"].get("database") == "ok"
        and after == {"search": "found", "readyz": 200}
    )
    return {"before": before, "during_outage": during, "after_restart": after,
            "survived": survived}  # fmt: skip
