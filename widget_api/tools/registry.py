"""The tool registry: declarations for the Realtime session and one way to run a call.

Each tool module provides NAME, DESCRIPTION, `Args`, `Result`, `run(args, ctx)` and optionally
`customize(schema, company)`. The declared schema comes from `Args` and incoming arguments are
validated by the same `Args`, so the two cannot drift apart. `ToolRunner.run` never raises for
bad input: every failure becomes an `{"error": {"code", "message"}}` output the model can act on.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from widget_api.companies.models import CompanyConfig
from widget_api.tools import create_meeting_link, get_demo_clip, log_lead, search_knowledge
from widget_api.tools.base import RunContext, ToolContext, ToolDeps, ToolError
from widget_api.tools.clip_index import ClipIndex
from widget_api.tools.schema import parameters_schema

if TYPE_CHECKING:
    from knowledge import KnowledgeBase
    from knowledge.embedding import Embedder
    from widget_api.crm.db import Database

log = logging.getLogger(__name__)

TOOL_MODULES: tuple[ModuleType, ...] = (
    search_knowledge,
    get_demo_clip,
    create_meeting_link,
    log_lead,
)
MAX_ARGUMENT_CHARS = 16_000
MAX_ID_CHARS = 128
# Call and session ids are stored and compared as-is: printable ASCII only, no spaces.
ID_PATTERN = r"^[\x21-\x7e]{1,128}$"
_ID = re.compile(ID_PATTERN)


@dataclass(frozen=True)
class ToolOutcome:
    name: str
    output: str  # JSON string, ready for a function_call_output item
    result: dict[str, Any]  # parsed output (for widget cards)
    ok: bool
    error_code: str | None
    replayed: bool = False
    tool_ms: float = 0.0  # the tool's own work, for overhead measurements (0 when replayed)


@dataclass
class _Execution:
    """Filled in by the executor so run() can report what happened inside run_once."""

    tool_ms: float = 0.0
    outcome: tuple[str, bool, str | None] | None = field(default=None)


def error_output(error: ToolError) -> str:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.details:
        body["details"] = error.details
    return json.dumps({"error": body}, separators=(",", ":"))


# Failures of a dependency, not of the call: never stored as the call's final answer.
TRANSIENT_ERROR_CODES = frozenset({"database_unavailable", "knowledge_unavailable"})


class _TransientFailure(Exception):
    """The tool failed because a dependency is down; the call must stay retryable."""


def _outcome_from_output(name: str, output: str, *, replayed: bool, tool_ms: float) -> ToolOutcome:
    result = json.loads(output)
    error = result.get("error") if isinstance(result, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return ToolOutcome(name, output, result, code is None, code, replayed, tool_ms)


# NUL and lone UTF-16 surrogates cannot be stored in PostgreSQL text (nor mean anything).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _unstorable(value: Any) -> bool:
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is not None
    if isinstance(value, dict):
        return any(_unstorable(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_unstorable(v) for v in value)
    return False


def _validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    # Field names and reasons only: raw input is never echoed back.
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "(arguments)", "reason": err["msg"]}
        for err in exc.errors(include_input=False, include_url=False)
    ]


class ToolRunner:
    """Declares the tools and runs calls idempotently per (session_id, call_id)."""

    def __init__(self, *, db: Database, knowledge: KnowledgeBase, embedder: Embedder) -> None:
        self.deps = ToolDeps(db=db, knowledge=knowledge, clips=ClipIndex(embedder))
        self._modules = {m.NAME: m for m in TOOL_MODULES}

    @property
    def names(self) -> list[str]:
        return list(self._modules)

    def declarations(self, company: CompanyConfig | None = None) -> list[dict[str, Any]]:
        """GA function declarations; with a company, its meeting lengths and required fields."""
        out = []
        for module in self._modules.values():
            schema = parameters_schema(module.Args)
            if company is not None and hasattr(module, "customize"):
                schema = module.customize(schema, company)
            out.append(
                {
                    "type": "function",
                    "name": module.NAME,
                    "description": module.DESCRIPTION,
                    "parameters": schema,
                }
            )
        return out

    def parse(self, name: str, arguments: str, company: CompanyConfig) -> BaseModel:
        """The validated Args for a call, or ToolError (unknown tool, bad JSON, bad fields)."""
        module = self._modules.get(name)
        if module is None:
            raise ToolError("unknown_tool")
        if not isinstance(arguments, str) or len(arguments) > MAX_ARGUMENT_CHARS:
            raise ToolError("tool_arguments_invalid", [{"reason": "arguments too long"}])
        try:
            data = json.loads(arguments or "{}")
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
            raise ToolError("tool_arguments_invalid", [{"reason": "not valid JSON"}]) from None
        if not isinstance(data, dict):
            raise ToolError("tool_arguments_invalid", [{"reason": "not a JSON object"}])
        # The raw text is stored too: a duplicate key can hide a surrogate that parsing dropped.
        if _unstorable(arguments) or _unstorable(data):
            raise ToolError("tool_arguments_invalid", [{"reason": "unstorable characters"}])
        try:
            args: BaseModel = module.Args.model_validate(data, context={"company": company})
        except ValidationError as exc:
            raise ToolError("tool_arguments_invalid", _validation_details(exc)) from None
        return args

    def execute(self, ctx: ToolContext, name: str, args: BaseModel) -> BaseModel:
        """Run one validated call directly (no idempotency record); raises ToolError."""
        run_ctx = RunContext(ctx.company, ctx.session_id, ctx.channel, self.deps)
        result: BaseModel = self._modules[name].run(args, run_ctx)
        return result

    def _outcome_row(
        self, ctx: ToolContext, name: str, args: BaseModel
    ) -> tuple[str, bool, str | None]:
        """(output, ok, error_code) for run_once; any failure becomes an error output."""
        failure: ToolError
        try:
            return self.execute(ctx, name, args).model_dump_json(), True, None
        except ToolError as exc:
            failure = exc
        except SQLAlchemyError:
            log.exception("tool %s: database error", name)
            failure = ToolError("database_unavailable")
        except Exception:  # a tool bug must not end the conversation
            log.exception("tool %s failed", name)
            failure = ToolError("internal_error")
        return error_output(failure), False, failure.code

    def run(self, ctx: ToolContext, call_id: str, name: str, arguments: str) -> ToolOutcome:
        """Validate and run one call once per (session, call_id); a retry replays the output.

        Raises ApiError("tool_call_in_progress") only when a duplicate of this very call is
        still running elsewhere (the caller may retry).
        """
        from widget_api.crm.tool_calls import run_once

        if not (_ID.match(call_id) and _ID.match(ctx.session_id)):
            error = ToolError("tool_arguments_invalid", [{"reason": "call_id or session_id"}])
            return _outcome_from_output(name, error_output(error), replayed=False, tool_ms=0.0)
        try:
            args = self.parse(name, arguments, ctx.company)
        except ToolError as error:
            return _outcome_from_output(name, error_output(error), replayed=False, tool_ms=0.0)
        execution = _Execution()

        def execute() -> tuple[str, bool, str | None]:
            started = time.perf_counter()
            try:
                execution.outcome = self._outcome_row(ctx, name, args)
            finally:
                execution.tool_ms = (time.perf_counter() - started) * 1000
            if execution.outcome[2] in TRANSIENT_ERROR_CODES:
                # Raising makes run_once drop its claim instead of storing the failure, so
                # a retry of this call_id runs the tool again once the outage is over.
                raise _TransientFailure
            return execution.outcome

        try:
            output, replayed = run_once(
                self.deps.db,
                company_id=ctx.company.id,
                session_id=ctx.session_id,
                call_id=call_id,
                name=name,
                arguments=arguments,
                execute=execute,
            )
        except _TransientFailure:
            assert execution.outcome is not None
            output, replayed = execution.outcome[0], False
        return _outcome_from_output(
            name, output, replayed=replayed, tool_ms=0.0 if replayed else execution.tool_ms
        )
