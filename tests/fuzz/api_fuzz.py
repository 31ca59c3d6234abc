"""Schemathesis over `/api/openapi.json` against a running server, as a plain function.

`run_api_fuzz(base_url, max_cases)` is what the tests and `scripts/reliability_report.py` call:
it loads the server's own document, spreads `max_cases` over every operation in positive and
negative generation modes, sends each case over real HTTP and checks the answer:

- no 5xx (`not_a_server_error`),
- status code, content type and body as documented (`status_code_conformance`,
  `content_type_conformance`, `response_schema_conformance`),
- schema-invalid input rejected with a 4xx (`negative_data_rejection`, negative mode),
- every JSON error carries a catalogue code that the document lists for that response
  (`x-error-codes`; our own check).

`FuzzAuth` optionally supplies real credentials so most valid cases get past authentication and
reach the tools and the CRM (a fuzzer that only ever sees 401 tests little).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from widget_api.errors import CATALOGUE

log = logging.getLogger(__name__)

# The WebSocket route is documented (a 101 upgrade) but cannot be exercised with plain HTTP.
SKIPPED_OPERATIONS = {"GET /ws/realtime/{company_id}"}
BASE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# A too-large body (413) is a correct refusal of schema-invalid input too.
_CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": [
        "400", "401", "403", "404", "405", "409", "413", "415", "422", "429"]}}}
)  # fmt: skip


@dataclass(frozen=True)
class FuzzAuth:
    """Real credentials the fuzzer may use for about half of the cases."""

    company_id: str = "acme"
    origin: str | None = None  # an allowed Origin for the session route
    session_id: str | None = None
    tool_token: str | None = None
    admin_token: str | None = None


def make_auth(
    signing_key: bytes,
    *,
    origin: str,
    admin_token: str | None = None,
    company_id: str = "acme",
    session_id: str = "ws_fuzz_session",
) -> FuzzAuth:
    """Credentials for a server whose signing key (WIDGET_SECRET_KEY) and admin token are known,
    e.g. a `widget-api serve` subprocess started by a report script."""
    from widget_api.tokens import issue_tool_token

    return FuzzAuth(
        company_id=company_id,
        origin=origin,
        session_id=session_id,
        tool_token=issue_tool_token(signing_key, company_id, session_id, 3600),
        admin_token=admin_token,
    )


@dataclass
class FuzzReport:
    cases: int = 0
    failures: int = 0
    by_operation: dict[str, dict[str, int]] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)
    admin_cookie: str | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "failures": self.failures,
            "operations": len(self.by_operation),
            "by_operation": dict(sorted(self.by_operation.items())),
            "statuses": dict(sorted(self.statuses.items())),
            "failing_examples": self.examples,
        }


def catalogue_code_check(operation_doc: dict[str, Any], response: Any) -> str | None:
    """Why a JSON error answer breaks the envelope rule, or None when it keeps it.

    `response` is schemathesis' Response (lower-case header names, list values).
    """
    content_type = " ".join(response.headers.get("content-type", []))
    if response.status_code < 400 or "json" not in content_type:
        return None
    entry = operation_doc.get("responses", {}).get(str(response.status_code), {})
    allowed = entry.get("x-error-codes")
    if allowed is None:  # a documented non-error JSON body (e.g. /readyz's 503)
        return None
    try:
        code = json.loads(response.content)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} JSON error without an error.code"
    if code not in CATALOGUE:
        return f"error code {code!r} is not in the catalogue"
    if code not in allowed:
        return f"error code {code!r} not documented for {response.status_code} (allows {allowed})"
    return None


def _with_auth(case: Any, auth: FuzzAuth, use: bool, lead_id: int, cookie: str | None) -> None:
    """Put real credentials (and the real company, a real lead) into a case."""
    if not use:
        return
    path = case.operation.path
    if case.path_parameters and "company_id" in case.path_parameters:
        case.path_parameters["company_id"] = auth.company_id
    if case.path_parameters and "lead_id" in case.path_parameters:
        case.path_parameters["lead_id"] = lead_id
    case.headers = dict(case.headers or {})
    if path.startswith("/admin/") and cookie:
        case.cookies = {**(case.cookies or {}), "widget_admin": cookie}
    if path == "/api/realtime/session" and auth.origin:
        case.headers["Origin"] = auth.origin
        if isinstance(case.body, dict) and "companyId" in case.body:
            case.body["companyId"] = auth.company_id
    elif path.endswith("/tool") and auth.tool_token:
        case.headers["Authorization"] = f"Bearer {auth.tool_token}"
        if isinstance(case.body, dict) and auth.session_id:
            case.body["session_id"] = auth.session_id
    elif path.startswith("/api/admin/") and auth.admin_token:
        case.headers["Authorization"] = f"Bearer {auth.admin_token}"


def _record_failure(report: FuzzReport, label: str, case: Any, reason: str) -> None:
    with report._lock:
        report.failures += 1
        if len(report.examples) < 20:
            try:
                curl = case.as_curl_command()
            except Exception:  # noqa: BLE001 - the reproduction is a courtesy
                curl = None
            report.examples.append(
                {"operation": label, "reason": reason[:1500], "curl": (curl or "")[:1500]}
            )


def _fuzz_operation(
    operation: Any, mode: GenerationMode, count: int, base_url: str, auth: FuzzAuth | None,
    http: requests.Session, report: FuzzReport, doc_op: dict[str, Any],
) -> None:  # fmt: skip
    label = f"{operation.method.upper()} {operation.path}"
    checks = BASE_CHECKS + ([negative_data_rejection] if mode == GenerationMode.NEGATIVE else [])

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    # Three valid cases in four carry credentials: small CI budgets still get past the auth.
    @given(case=operation.as_strategy(generation_mode=mode), use_auth=st.integers(0, 3).map(bool),
           lead_id=st.integers(1, 8))  # fmt: skip
    def one(case: Any, use_auth: bool, lead_id: int) -> None:
        # Credentials only go into valid cases: editing an invalid one could make it valid.
        if auth is not None and mode == GenerationMode.POSITIVE:
            _with_auth(case, auth, use_auth, lead_id, report.admin_cookie)
        with report._lock:
            report.cases += 1
        try:
            response = case.call(base_url=base_url, session=http, timeout=30)
        except requests.RequestException as exc:  # a dropped connection is a failure too
            _record_failure(report, label, case, f"transport error: {type(exc).__name__}: {exc}")
            return
        with report._lock:
            key = str(response.status_code)
            report.statuses[key] = report.statuses.get(key, 0) + 1
            per_op = report.by_operation.setdefault(label, {})
            per_op[key] = per_op.get(key, 0) + 1
        try:
            case.validate_response(response, checks=checks)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - recorded, never stops the run
            _record_failure(report, label, case, f"{type(exc).__name__}: {exc}")
            return
        reason = catalogue_code_check(doc_op, response)
        if reason:
            _record_failure(report, label, case, reason)

    try:
        one()
    except Unsatisfiable:
        # Nothing in this operation can be made schema-invalid in that mode: nothing to send.
        log.info("no %s cases for %s", mode.value, label)


def run_api_fuzz(
    base_url: str,
    max_cases: int,
    *,
    auth: FuzzAuth | None = None,
    document: dict[str, Any] | None = None,
    only: Collection[str] | None = None,
) -> dict[str, Any]:
    """Fuzz every documented operation of the server at `base_url` with about `max_cases` cases.

    The document is the server's own `/api/openapi.json` unless one is given (tests give a
    broken one to prove the checks bite); `only` limits the run to some operations
    (`"POST /api/chat/{company_id}/tool"`). Returns `{cases, failures, operations, by_operation,
    statuses, failing_examples}`.
    """
    base_url = base_url.rstrip("/")
    http = requests.Session()
    doc = document or http.get(f"{base_url}/api/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(doc, config=_CONFIG)
    operations = [r.ok() for r in schema.get_all_operations()]
    operations = [
        op for op in operations
        if (label := f"{op.method.upper()} {op.path}") not in SKIPPED_OPERATIONS
        and (only is None or label in only)
    ]  # fmt: skip
    if auth is not None and auth.admin_token:  # noqa: SIM102
        # The admin page's cookie, so page cases get past the login form too.
        http.post(f"{base_url}/admin/{auth.company_id}/login", data={"token": auth.admin_token},
                  allow_redirects=False, timeout=30)  # fmt: skip
    report = FuzzReport(admin_cookie=http.cookies.get("widget_admin"))
    http.cookies.clear()
    # Operations without inputs run out of distinct cases at once; later rounds give their
    # share to the operations that take parameters or a body, until the budget is spent.
    pending = operations
    for _round in range(4):
        remaining = max_cases - report.cases
        if remaining <= 0 or not pending:
            break
        per_run = max(5, remaining // (len(pending) * 2))
        for operation in pending:
            doc_op = doc["paths"][operation.path][operation.method.lower()]
            negative = _can_be_negative(doc_op)
            if not negative:  # no inputs: a few identical requests say all there is to say
                _fuzz_operation(operation, GenerationMode.POSITIVE, min(per_run, 4), base_url,
                                auth, http, report, doc_op)  # fmt: skip
                continue
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz_operation(operation, mode, per_run, base_url, auth, http, report, doc_op)
        pending = [
            op for op in operations
            if _can_be_negative(doc["paths"][op.path][op.method.lower()])
        ]  # fmt: skip
    http.close()
    return report.as_dict()


def _can_be_negative(doc_op: dict[str, Any]) -> bool:
    return bool(doc_op.get("parameters")) or "requestBody" in doc_op


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve a Flask app on a free loopback port for the block, as a `serve` worker does
    (uvicorn: HTTP and the WebSocket endpoints; the server's origin is the bound port)."""
    from widget_api.server import serve_in_thread

    with serve_in_thread(app) as base:
        yield base


def dump(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=2, default=str)
