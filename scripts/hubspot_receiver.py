"""A tiny webhook receiver that keeps HubSpot contacts in step with the widget's leads.

No vendor SDK: it verifies the Standard Webhooks signature, drops repeats by `webhook-id`,
maps the lead to HubSpot contact properties and calls HubSpot's CRM v3 API with httpx
(upsert by email; archive on `lead.deleted`). Run it next to your CRM credentials:

    WIDGET_WEBHOOK_SECRET=whsec_... HUBSPOT_TOKEN=pat-... \\
        .venv/bin/python -m scripts.hubspot_receiver --port 8787

and point the company file at it: `[[webhooks]] url = "https://crm-bridge.example/hooks"`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import httpx
from standardwebhooks import Webhook, WebhookVerificationError

HUBSPOT_API = "https://api.hubapi.com"


def hubspot_properties(lead: dict[str, Any], summary: str | None = None) -> dict[str, str]:
    """HubSpot contact properties for one lead (default properties plus a note field)."""
    first, _, last = (lead.get("name") or "").strip().partition(" ")
    notes = [lead.get(k) for k in ("interest", "team_size", "timeline", "budget", "notes")]
    if summary:
        notes.append(f"Conversation: {summary}")
    if lead.get("admin_url"):
        notes.append(f"Widget lead: {lead['admin_url']}")
    props = {
        "email": lead.get("email"), "firstname": first, "lastname": last,
        "company": lead.get("company"), "jobtitle": lead.get("role"), "phone": lead.get("phone"),
        "hs_lead_status": "NEW", "message": "\n".join(n for n in notes if n),
    }  # fmt: skip
    return {k: str(v) for k, v in props.items() if v}


class HubSpotBridge:
    """Verified, deduplicated events in; HubSpot API calls out."""

    def __init__(self, secret: str, token: str, api: str = HUBSPOT_API) -> None:
        self.webhook = Webhook(secret)
        self.client = httpx.Client(base_url=api, timeout=10.0,
                                   headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        self.seen: set[str] = set()  # use your database in production: ids survive restarts
        self.lock = threading.Lock()

    def handle(self, body: bytes, headers: dict[str, str]) -> int:
        try:
            event = self.webhook.verify(body, headers)
        except WebhookVerificationError:
            return 401
        with self.lock:
            if headers["webhook-id"] in self.seen:
                return 200  # a retry of something already done
        lead = (event.get("data") or {}).get("lead")
        if lead:
            summary = (event["data"].get("conversation") or {}).get("summary")
            if event["type"] == "lead.deleted":
                response = self.client.delete(
                    f"/crm/v3/objects/contacts/{quote(lead['email'])}",
                    params={"idProperty": "email"},
                )
            else:
                inputs = [{"idProperty": "email", "id": lead["email"],
                           "properties": hubspot_properties(lead, summary)}]  # fmt: skip
                response = self.client.post("/crm/v3/objects/contacts/batch/upsert",
                                            json={"inputs": inputs})  # fmt: skip
            if response.status_code >= 300 and response.status_code != 404:
                return 502  # not done: the widget retries later with the same id
        with self.lock:
            self.seen.add(headers["webhook-id"])
        return 200


def serve(bridge: HubSpotBridge, port: int) -> ThreadingHTTPServer:
    handle: Callable[[bytes, dict[str, str]], int] = bridge.handle

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = handle(body, {k.lower(): v for k, v in self.headers.items()})
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8787)
    args = parser.parse_args(argv)
    bridge = HubSpotBridge(os.environ["WIDGET_WEBHOOK_SECRET"], os.environ["HUBSPOT_TOKEN"])
    server = serve(bridge, args.port)
    print(json.dumps({"listening": f"http://127.0.0.1:{server.server_port}/"}), flush=True)
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
