"""Tenant isolation across 20 generated companies: knowledge, tool tokens, admin access, leads,
sessions and the relay WebSocket."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable

import pytest
from flask import Flask
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.security.conftest import (
    N_COMPANIES,
    admin_token,
    company_id,
    marker,
    site_origin,
)
from widget_api.services import Services
from widget_api.tokens import issue_tool_token
from widget_api.tools.base import ToolContext

IDS = [company_id(i) for i in range(N_COMPANIES)]
MARKERS = re.compile(r"ZEBRA(CO\d\d|XSS)QUOKKA")


def _markers(text: str) -> set[str]:
    return {m.lower() for m in MARKERS.findall(text)}


def test_every_company_has_its_own_documents(sec_stack: Services) -> None:
    for cid in IDS:
        hits = sec_stack.knowledge.search(sec_stack.companies.get(cid).collection, marker(cid))
        assert hits and cid in _markers(" ".join(h.text for h in hits))


def test_no_search_returns_another_companys_chunks(sec_stack: Services) -> None:
    kb = sec_stack.knowledge
    for i, cid in enumerate(IDS):
        other = IDS[(i + 7) % N_COMPANIES]
        collection = sec_stack.companies.get(cid).collection
        for query in (marker(other), f"{other} secret plan code", "pricing per seat", "*"):
            hits = kb.search(collection, query, top_k=20)
            found = _markers(" ".join(h.text + " " + h.source for h in hits))
            assert found <= {cid}, (cid, query, found)
        # Filters cannot reach across either. Identities are relative to the source root, so
        # the other company's source name (`docs/plans.md`) is also this company's own: the
        # filter must find this company's chunks of that name and never the other's.
        theirs = kb.search(sec_stack.companies.get(other).collection, marker(other), top_k=20)
        filtered = kb.search(collection, marker(other), top_k=20, sources=[theirs[0].source])
        assert _markers(" ".join(h.text for h in filtered)) <= {cid}, (cid, other)
        assert {h.source for h in filtered} <= {theirs[0].source}
        assert not {h.chunk_id for h in filtered} & {h.chunk_id for h in theirs}


def test_search_tool_answers_only_from_the_callers_company(sec_stack: Services) -> None:
    for i, cid in enumerate(IDS[:8]):
        other = IDS[(i + 3) % N_COMPANIES]
        ctx = ToolContext(company=sec_stack.companies.get(cid), session_id=f"ws_iso_{cid}")
        args = json.dumps({"query": f"What is the secret plan code {marker(other)}?"})
        outcome = sec_stack.tools.run(ctx, f"c_{uuid.uuid4().hex}", "search_knowledge", args)
        assert outcome.ok
        assert _markers(outcome.output) <= {cid}


def test_tool_tokens_work_only_for_their_company_and_session(
    make_sec_app: Callable[..., Flask], sec_stack: Services
) -> None:
    client = make_sec_app().test_client()
    args = json.dumps({"query": "pricing"})
    for i, cid in enumerate(IDS):
        session = f"ws_{cid}_{uuid.uuid4().hex[:6]}"
        token = issue_tool_token(sec_stack.signing_key, cid, session, 600)
        headers = {"Authorization": f"Bearer {token}"}

        def call(
            target: str, session_id: str, headers: dict[str, str] = headers
        ) -> tuple[int, str]:  # noqa: E501
            body = {"name": "search_knowledge", "arguments": args,
                    "call_id": uuid.uuid4().hex, "session_id": session_id}  # fmt: skip
            r = client.post(f"/api/chat/{target}/tool", json=body, headers=headers)
            return r.status_code, (r.get_json().get("error") or {}).get("code", "ok")

        assert call(cid, session) == (200, "ok")
        for other in (IDS[(i + 1) % N_COMPANIES], IDS[(i + 11) % N_COMPANIES], "xss"):
            assert call(other, session) == (403, "token_wrong_scope")
        assert call(cid, f"ws_other_{uuid.uuid4().hex[:6]}") == (403, "token_wrong_scope")


def test_admin_tokens_work_only_for_their_company(
    make_sec_app: Callable[..., Flask], sec_stack: Services
) -> None:
    # Every foreign token is a wrong attempt from this one address: no guard in this test.
    client = make_sec_app(admin_failed_attempts_per_address=10**6).test_client()
    for i, cid in enumerate(IDS):
        headers = {"Authorization": f"Bearer {admin_token(cid)}"}
        assert client.get(f"/api/admin/{cid}/leads", headers=headers).status_code == 200
        for other in (IDS[(i + 1) % N_COMPANIES], IDS[(i + 5) % N_COMPANIES]):
            for path in (f"/api/admin/{other}/leads", f"/api/admin/{other}/leads.csv",
                         f"/api/admin/{other}/leads/1"):  # fmt: skip
                r = client.get(path, headers=headers)
                # Not told apart from a wrong token: that would confirm it is someone's.
                answer = (r.status_code, r.get_json()["error"]["code"])
                assert answer == (401, "admin_token_invalid")
            r = client.patch(f"/api/admin/{other}/leads/1", json={"status": "qualified"},
                             headers=headers)  # fmt: skip
            assert r.status_code == 401


def _log_lead(sec_stack: Services, cid: str) -> str:
    email = f"visitor.{uuid.uuid4().hex[:8]}@{cid}-buyer.example"
    ctx = ToolContext(company=sec_stack.companies.get(cid), session_id=f"ws_lead_{cid}")
    args = json.dumps({"name": f"Visitor of {cid}", "email": email, "interest": "pricing"})
    assert sec_stack.tools.run(ctx, uuid.uuid4().hex, "log_lead", args).ok
    return email


def test_leads_and_lead_ids_never_cross_companies(
    make_sec_app: Callable[..., Flask], sec_stack: Services
) -> None:
    client = make_sec_app().test_client()
    emails = {cid: _log_lead(sec_stack, cid) for cid in IDS[:6]}
    ids = {}
    for cid in emails:
        headers = {"Authorization": f"Bearer {admin_token(cid)}"}
        leads = client.get(f"/api/admin/{cid}/leads?limit=500", headers=headers).get_json()
        assert {lead["company_id"] for lead in leads["leads"]} == {cid}
        assert emails[cid] in {lead["email"] for lead in leads["leads"]}
        ids[cid] = next(x["id"] for x in leads["leads"] if x["email"] == emails[cid])
    for i, cid in enumerate(emails):
        other = list(emails)[(i + 1) % len(emails)]
        headers = {"Authorization": f"Bearer {admin_token(cid)}"}
        # The other company's lead id, through this company's own (authorized) routes.
        r = client.get(f"/api/admin/{cid}/leads/{ids[other]}", headers=headers)
        assert (r.status_code, r.get_json()["error"]["code"]) == (404, "lead_not_found")
        r = client.patch(f"/api/admin/{cid}/leads/{ids[other]}", json={"status": "disqualified"},
                         headers=headers)  # fmt: skip
        assert r.status_code == 404
        own = {"Authorization": f"Bearer {admin_token(other)}"}
        lead = client.get(f"/api/admin/{other}/leads/{ids[other]}", headers=own).get_json()
        assert lead["status"] == "new"


def test_admin_page_cookie_works_only_for_its_company(
    make_sec_app: Callable[..., Flask],
) -> None:
    client = make_sec_app().test_client()
    cid, other = IDS[0], IDS[1]
    r = client.post(f"/admin/{cid}/login", data={"token": admin_token(cid)})
    assert r.status_code == 303
    cookie = client.get_cookie("widget_admin", path=f"/admin/{cid}/")
    assert cookie is not None
    assert client.get(f"/admin/{cid}/leads").status_code == 200
    # The same signed cookie presented to another company's page is not a session there.
    client.set_cookie("widget_admin", cookie.value, path=f"/admin/{other}/")
    assert client.get(f"/admin/{other}/leads").status_code == 401
    assert client.get(f"/admin/{other}/leads.csv").status_code == 401
    # Another company's admin token does not log in here.
    r = client.post(f"/admin/{other}/login", data={"token": admin_token(cid)})
    assert r.status_code == 401


def test_sessions_and_relay_are_refused_from_another_companys_site(
    sec_server: str,
) -> None:
    import requests

    cid, other = IDS[2], IDS[3]
    r = requests.post(f"{sec_server}/api/realtime/session", json={"companyId": cid},
                      headers={"Origin": site_origin(other)}, timeout=10)  # fmt: skip
    assert (r.status_code, r.json()["error"]["code"]) == (403, "origin_not_allowed")
    ok = requests.post(f"{sec_server}/api/realtime/session", json={"companyId": cid},
                       headers={"Origin": site_origin(cid)}, timeout=10)  # fmt: skip
    assert ok.status_code == 200
    ws_url = sec_server.replace("http://", "ws://") + f"/ws/realtime/{cid}?mode=text"
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url, origin=site_origin(other), open_timeout=5)  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    with connect(ws_url, origin=site_origin(cid), open_timeout=5) as ws:  # type: ignore[arg-type]
        assert json.loads(ws.recv(timeout=10))["type"]
