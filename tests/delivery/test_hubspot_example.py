"""The README's HubSpot example end to end: our sender -> the bridge -> a loopback stand-in
for HubSpot's CRM API (a vendor API is a true external seam)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from scripts.hubspot_receiver import HubSpotBridge, hubspot_properties, serve
from tests.delivery.conftest import SECRET, make_sender
from widget_api.crm.db import Database
from widget_api.crm.leads import LeadFields, upsert_lead


@pytest.fixture
def hubspot() -> Iterator[tuple[str, list[tuple[str, str, Any]]]]:
    calls: list[tuple[str, str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            calls.append((self.command, self.path, json.loads(body) if body else None))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_POST = do_DELETE = _record

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", calls
    server.shutdown()


def test_lead_becomes_a_hubspot_contact_upsert(db: Database, hubspot: Any) -> None:
    api, calls = hubspot
    bridge = serve(HubSpotBridge(SECRET, "pat-test", api=api), 0)
    try:
        upsert_lead(db, "acme", LeadFields(name="Ada Lovelace", email="ada@example.com",
                                           company="Analytical Ltd", role="CTO"),
                    session_id=None, channel="text")  # fmt: skip
        sender = make_sender(db, [f"http://127.0.0.1:{bridge.server_port}/hooks"])
        sender.run_once()
    finally:
        bridge.shutdown()
    ((method, path, body),) = calls
    assert (method, path.split("?")[0]) == ("POST", "/crm/v3/objects/contacts/batch/upsert")
    (item,) = body["inputs"]
    assert item["idProperty"] == "email" and item["id"] == "ada@example.com"
    assert item["properties"]["firstname"] == "Ada" and item["properties"]["lastname"] == "Lovelace"
    assert item["properties"]["jobtitle"] == "CTO"
    assert "https://widget.example/admin/acme/leads/" in item["properties"]["message"]


def test_mapping_leaves_out_empty_fields() -> None:
    props = hubspot_properties({"name": "Ada", "email": "a@b.c", "company": None})
    assert props == {"email": "a@b.c", "firstname": "Ada", "hs_lead_status": "NEW"}
