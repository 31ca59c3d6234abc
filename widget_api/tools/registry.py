"""The tool registry: declarations for the Realtime session and one way to run a call.

Each tool module provides NAME, DESCRIPTION, `Args`, `Result`, `run(args, ctx)` and optionally
`customize(schema, company)`. The declared schema comes from `Args` and incoming arguments are
validated by the same `Args`, so the two cannot drift apart. Every call ends in an `Outcome`;
a failure becomes an `{"error": {"code", "message"}}` output the model can act on.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from widget_api.companies.models import CompanyConfig
from widget_api.crm import tool_calls
from widget_api.crm.claims import DEFAULT_MAX_LEAD_UPDATES
from widget_api.crm.tool_calls import CallKey, Stored
from widget_api.errors import DomainError
from widget_api.tools import create_meeting_link, get_demo_clip, log_lead, search_knowledge
from widget_api.tools.base import RunContext, ToolContext, ToolDeps, ToolError
from widget_api.tools.clip_index import ClipIndex
from widget_api.tools.schema import parameters_schema

if TYPE_CHECKING:
    from knowledge import KnowledgeBase
    from knowledge.embedding import Embedder
    from widget_api.crm.db import Database

# ToolContext is part of this module's interface: callers build one per conversation.
__all__ = ["ID_PATTERN", "MAX_ARGUMENT_CHARS", "Outcome", "ToolContext", "ToolRunner"]

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


# Failures of a dependency, not of the call: never stored as the call's final answer.
TRANSIENT_ERROR_CODES = frozenset({"database_unavailable", "knowledge_unavailable"})


def _dumps(result: dict[str, Any]) -> str:
    return json.dumps(result, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Outcome:
    """What one tool call produced, as the model (`output`) and the widget (`result`) see it.

    `transient` marks a failure of a dependency (database, knowledge base): the model gets an
    answer, but it is not stored as the call's result, so a retry runs the tool again.
    """

    name: str
    output: str  # JSON text, ready for a function_call_output item
    result: dict[str, Any]  # the same answer as data (the Result model's JSON form)
    error_code: str | None = None
    transient: bool = False
    replayed: bool = False
    tool_ms: float = 0.0  # the tool's own work, for overhead measurements (0 when replayed)

    @property
    def ok(self) -> bool:
        return self.error_code is None

    @classmethod
    def success(cls, name: str, result: BaseModel, tool_ms: float = 0.0) -> Outcome:
        data = result.model_dump(mode="json")
        return cls(name, _dumps(data), data, tool_ms=tool_ms)

    @classmethod
    def failure(cls, name: str, error: ToolError, tool_ms: float = 0.0) -> Outcome:
        body: dict[str, Any] = {"code": error.code, "message": error.message}
        if error.details:
            body["details"] = error.details
        data = {"error": body}
        transient = error.code in TRANSIENT_ERROR_CODES
        return cls(name, _dumps(data), data, error.code, transient=transient, tool_ms=tool_ms)

    @classmethod
    def replay(cls, name: str, output: str) -> Outcome:
        """A stored answer (the only place an output is parsed back)."""
        data = json.loads(output)
        error = data.get("error") if isinstance(data, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        return cls(name, output, data if isinstance(data, dict) else {}, code, replayed=True)


def error_output(error: ToolError) -> str:
    return Outcome.failure("", error).output


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

    def __init__(
        self,
        *,
        db: Database,
        knowledge: KnowledgeBase,
        embedder: Embedder,
        max_lead_updates: int = DEFAULT_MAX_LEAD_UPDATES,
    ) -> None:
        self.deps = ToolDeps(
            db=db, knowledge=knowledge, clips=ClipIndex(embedder), max_lead_updates=max_lead_updates
        )
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

    def _attempt(self, ctx: ToolContext, name: str, args: BaseModel) -> Outcome:
        """Run the tool once; any failure becomes a failure Outcome, timed either way."""
        started = time.perf_counter()
        failure: ToolError
        try:
            result = self.execute(ctx, name, args)
            return Outcome.success(name, result, _since(started))
        except ToolError as exc:
            failure = exc
        except SQLAlchemyError:
            log.exception("tool %s: database error", name)
            failure = ToolError("database_unavailable")
        except Exception:  # a tool bug must not end the conversation
            log.exception("tool %s failed", name)
            failure = ToolError("internal_error")
        return Outcome.failure(name, failure, _since(started))

    def call(self, ctx: ToolContext, call_id: str, name: str, arguments: str) -> Outcome:
        """Validate and run one call once per (session, call_id); a retry replays the output.

        Bad input becomes a failure Outcome. Raises DomainError `tool_call_conflict` (the call
        id was used for another tool or other arguments) and `tool_call_in_progress` (a
        duplicate of this very call is still running): the HTTP endpoint answers those 409.
        """
        if not (_ID.match(call_id) and _ID.match(ctx.session_id)):
            error = ToolError("tool_arguments_invalid", [{"reason": "call_id or session_id"}])
            return Outcome.failure(name, error)
        try:
            args = self.parse(name, arguments, ctx.company)
        except ToolError as error:
            return Outcome.failure(name, error)
        db = self.deps.db
        key = CallKey(ctx.company.id, ctx.session_id, call_id, name, arguments)
        claimed = tool_calls.claim(db, key)
        if isinstance(claimed, Stored):
            return Outcome.replay(name, claimed.output)
        try:
            outcome = self._attempt(ctx, name, args)
        except BaseException:  # interrupted: let a retry run the call
            tool_calls.release(db, claimed)
            raise
        if outcome.transient:
            tool_calls.release(db, claimed)
            return outcome
        answer = tool_calls.store(
            db, claimed, key, output=outcome.output, ok=outcome.ok,
            error_code=outcome.error_code, latency_ms=outcome.tool_ms,
        )  # fmt: skip
        return outcome if answer == outcome.output else Outcome.replay(name, answer)

    def run(self, ctx: ToolContext, call_id: str, name: str, arguments: str) -> Outcome:
        """`call`, with a conflict or a still-running duplicate answered as a tool error.

        For conversations (relay, local engine, sideband): the model reads the error and
        carries on; a tool call never ends a conversation.
        """
        try:
            return self.call(ctx, call_id, name, arguments)
        except DomainError as error:
            return Outcome.failure(name, ToolError(error.code, error.details))


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
