"""Server-side calls: OpenAI call control (accept, reject, hang up) and one agent per call.

`CallControl` wraps the official SDK's `client.realtime.calls` (REST, standard key).
`CallRegistry` starts at most one `CallAgent` per call id (so at most one extra upstream
connection per call) and wires it to the product: the tool runner, the conversation record and
the hang-up. It holds no Flask state; routes pass it what they parsed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from widget_api.admission import settle_call
from widget_api.realtime.call_agent import CallAgent, CallHooks, Socket, TranscriptLine

if TYPE_CHECKING:
    from widget_api.companies.models import CompanyConfig
    from widget_api.services import Services

log = logging.getLogger(__name__)

MAX_AGENTS = 1000  # finished agents are dropped; this bounds live ones per process


def sideband_url(base_url: str, call_id: str) -> str:
    """`wss://host/v1/realtime?call_id=...` from the REST base URL (http→ws, https→wss)."""
    from widget_api.relay.upstream import realtime_url

    return realtime_url(base_url, "x").split("?", 1)[0] + "?call_id=" + quote(call_id, safe="")


class CallControl:
    """`POST /realtime/calls/{id}/accept|reject|hangup` through the SDK (standard key)."""

    def __init__(self, api_key: str, base_url: str, timeout: float) -> None:
        import openai  # seconds to import; only servers with a key need it

        self.api_key, self.base_url, self.timeout = api_key, base_url, timeout
        self._client = openai.OpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=1
        )

    def accept(self, call_id: str, session: dict[str, Any]) -> None:
        self._client.realtime.calls.accept(call_id, **session)

    def reject(self, call_id: str, status_code: int = 486) -> None:
        self._client.realtime.calls.reject(call_id, status_code=status_code)

    def hangup(self, call_id: str) -> None:
        self._client.realtime.calls.hangup(call_id)

    def connect_sideband(self, call_id: str) -> Socket:
        """Open the sideband WebSocket for a call (§3.4); `model` is not sent (ignored there)."""
        from websockets.sync.client import connect

        return connect(
            sideband_url(self.base_url, call_id),
            additional_headers={"Authorization": f"Bearer {self.api_key}"},
            open_timeout=self.timeout,
            max_size=None,
        )


@dataclass(frozen=True)
class CallSpec:
    """Who a call belongs to and how long it may last."""

    call_id: str
    company: CompanyConfig
    session_id: str
    channel: str  # "webrtc" | "sip" | "twilio"
    max_seconds: float
    greet: bool = False
    caller_number: str | None = None  # phone calls: personal data, only ever put on the lead


class CallRegistry:
    """The live call agents of this process, one per call id."""

    def __init__(self, services: Services, control: CallControl) -> None:
        self._services, self.control = services, control
        self._lock = threading.Lock()
        self._agents: dict[str, CallAgent] = {}
        self._by_session: dict[str, str] = {}

    def start(
        self,
        spec: CallSpec,
        *,
        connect: Callable[[str], Socket] | None = None,
        hangup: Callable[[str], None] | None = None,
    ) -> CallAgent:
        """The call's agent, started once (a repeated report of the same call reuses it).

        `connect`/`hangup` replace the sideband and the REST hang-up (the Twilio bridge feeds
        the agent from its own upstream connection and hangs up by closing the stream).
        """
        with self._lock:
            self._forget_finished()
            existing = self._agents.get(spec.call_id)
            if existing is not None:
                return existing
            if len(self._agents) >= MAX_AGENTS:
                raise RuntimeError("too many live calls")
            hooks = self._hooks(spec, connect or self.control.connect_sideband,
                                hangup or self.control.hangup)  # fmt: skip
            agent = CallAgent(spec.call_id, hooks, max_seconds=spec.max_seconds, greet=spec.greet)
            self._agents[spec.call_id] = agent
            self._by_session[spec.session_id] = spec.call_id
        return agent.start()

    def for_session(self, session_id: str) -> CallAgent | None:
        with self._lock:
            call_id = self._by_session.get(session_id)
            return self._agents.get(call_id) if call_id else None

    def get(self, call_id: str) -> CallAgent | None:
        with self._lock:
            return self._agents.get(call_id)

    def end_all(self, wait: float = 2.0) -> None:
        with self._lock:
            agents = list(self._agents.values())
        for agent in agents:
            agent.end("ended_by_server", wait=wait)

    def _forget_finished(self) -> None:
        for call_id in [c for c, a in self._agents.items() if a.finished]:
            del self._agents[call_id]
        live = set(self._agents)
        for session_id in [s for s, c in self._by_session.items() if c not in live]:
            del self._by_session[session_id]

    def _hooks(
        self, spec: CallSpec, connect: Callable[[str], Socket], hangup: Callable[[str], None]
    ) -> CallHooks:
        from widget_api.tools.registry import ToolContext

        services = self._services
        ctx = ToolContext(company=spec.company, session_id=spec.session_id, channel="voice")

        def run_tool(call_id: str, name: str, arguments: str) -> tuple[str, bool]:
            arguments = with_caller_number(name, arguments, spec.caller_number)
            outcome = services.tools.run(ctx, call_id, name, arguments)
            return outcome.output, outcome.ok

        started = time.monotonic()

        def finish(reason: str, summary: str | None) -> None:
            # The session route reserved the call's voice minutes; give back what it left.
            used = time.monotonic() - started
            settle_call(services.rate_limiter.store, spec.company.id, spec.session_id, used)
            record_end(services, spec.session_id, reason, summary)

        def turn_latency(first_audio_ms: float | None, first_text_ms: float | None) -> None:
            from widget_api.crm.latency import record_turn_latency

            record_turn_latency(services.db, company_id=spec.company.id, channel="sip",
                                session_id=spec.session_id, first_audio_ms=first_audio_ms,
                                first_text_ms=first_text_ms)  # fmt: skip

        return CallHooks(
            connect=connect,
            run_tool=run_tool,
            record=lambda lines: record_lines(services, spec, lines),
            finish=finish,
            hangup=hangup,
            turn_latency=turn_latency if spec.channel == "sip" else None,
        )


def with_caller_number(name: str, arguments: str, caller_number: str | None) -> str:
    """A lead logged during a phone call carries the caller's number unless the model gave one.

    The number is personal data: it is stored only as the lead's phone field, where forget and
    export reach it, and never logged.
    """
    if name != "log_lead" or not caller_number:
        return arguments
    try:
        args = json.loads(arguments)
    except ValueError:
        return arguments
    if not isinstance(args, dict) or args.get("phone"):
        return arguments
    return json.dumps({**args, "phone": caller_number})


_REGISTRIES: dict[int, CallRegistry] = {}
_REGISTRIES_LOCK = threading.Lock()


def registry_for(services: Services) -> CallRegistry:
    """The process's call registry over these services (WebRTC, SIP and Twilio calls alike).

    Raises ApiError `realtime_unavailable` when no OpenAI key is configured.
    """
    from widget_api.errors import ApiError

    settings = services.settings
    if not settings.realtime_enabled or settings.openai_api_key is None:
        raise ApiError("realtime_unavailable")
    with _REGISTRIES_LOCK:
        registry = _REGISTRIES.get(id(services))
        if registry is None:
            control = CallControl(
                settings.openai_api_key.get_secret_value(), settings.openai_base_url,
                settings.openai_timeout_seconds,
            )  # fmt: skip
            registry = _REGISTRIES[id(services)] = CallRegistry(services, control)
        return registry


def record_lines(services: Services, spec: CallSpec, lines: Sequence[TranscriptLine]) -> None:
    """Transcript lines into the conversation record (the same store as web conversations)."""
    from widget_api.crm import record

    out = [
        record.tool_line(
            line.tool_call_id or "", line.tool_name or "", line.arguments or "{}", line.text,
            bool(line.tool_ok),
        )
        if line.role == "tool"
        else record.Line(line.role, line.text)
        for line in lines
    ]  # fmt: skip
    record.append_lines(services.db, spec.company.id, spec.session_id, out)


def record_end(services: Services, session_id: str, reason: str, summary: str | None) -> None:
    from widget_api.crm import record

    try:
        record.end(services.db, session_id, reason=reason, summary=summary)
    except Exception:
        log.exception("could not record a call's end")
