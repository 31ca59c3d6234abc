"""`/ws/twilio/<companyId>`: a Twilio Media Stream, bridged to the company's Realtime session.

A thin adapter on the worker's loop. The handshake must carry a valid `X-Twilio-Signature`
(Twilio signs the stream URL with the account's auth token); the `start` message must carry the
stream token the signed TwiML webhook handed out. Media frames go through `TwilioBridge` on the
loop (no thread hop per frame). Tool calls, the transcript, the maximum duration and the summary
run in a `CallAgent` thread that reads the non-audio events from a queue, as it would from a
sideband, so a tool never blocks the loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import secrets
from typing import TYPE_CHECKING, Any

from widget_api.errors import ApiError, DomainError
from widget_api.phone.sip import PHONE_NOTE
from widget_api.phone.twilio_bridge import TwilioBridge
from widget_api.phone.twilio_signature import valid_stream_token, valid_twilio_signature

if TYPE_CHECKING:
    from widget_api.relay.hub import RelayHub
    from widget_api.services import Services
    from widget_api.serving.websocket import WebSocketRequest

log = logging.getLogger(__name__)

CLOSE_POLICY = 1008


class LoopFeed:
    """The agent's `Socket`: events fed from the loop, sends posted back to the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, send_upstream: Any) -> None:
        self._loop, self._send_upstream = loop, send_upstream
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()

    def feed(self, text: str) -> None:
        self._queue.put(text)

    def end(self) -> None:
        self._queue.put(None)

    def send(self, message: str) -> None:
        self._loop.call_soon_threadsafe(self._send_upstream, message)

    def recv(self, timeout: float | None = None) -> str:
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError from None
        if item is None:
            self._queue.put(None)  # stays ended for every later read
            raise EOFError("upstream closed")
        return item

    def close(self) -> None:
        return None


def stream_url(settings: Any, company_id: str) -> str:
    """The public `wss://` URL of the stream endpoint, as Twilio signs it."""
    origin = settings.server_origin
    scheme = "wss://" if origin.startswith("https://") else "ws://"
    return scheme + origin.split("://", 1)[1] + f"/ws/twilio/{company_id}"


def _refusal(request: WebSocketRequest, services: Services, company_id: str) -> ApiError | None:
    settings = services.settings
    token = settings.twilio_auth_token
    if token is None or not settings.realtime_enabled:
        return ApiError("phone_not_configured")
    try:
        services.companies.get(company_id)
    except ApiError as err:
        return err
    signature = request.headers.get("x-twilio-signature")
    url = stream_url(settings, company_id)
    if not valid_twilio_signature(token.get_secret_value(), url, {}, signature):
        return ApiError("twilio_signature_invalid")
    return None


async def handle(
    request: WebSocketRequest, services: Services, hub: RelayHub, *, company_id: str
) -> None:
    """Refuse or accept the stream, then bridge it until either side ends."""
    refusal = _refusal(request, services, company_id)
    if refusal is not None:
        await request.deny(refusal.status, refusal.to_dict())
        return
    page = await request.accept()
    if page is None:
        return
    await run_call(page, services, hub, services.companies.get(company_id))


async def run_call(page: Any, services: Services, hub: RelayHub, company: Any) -> None:
    """Bridge one accepted Twilio stream (`page`: a PageLink) to a new Realtime session."""
    from widget_api.instructions import build_instructions
    from widget_api.realtime.session_config import PCMU, build_session
    from widget_api.relay.upstream import UpstreamUnavailable, open_upstream

    settings = services.settings
    assert settings.openai_api_key is not None and settings.twilio_auth_token is not None
    try:
        upstream = await open_upstream(
            settings.openai_base_url, settings.openai_api_key.get_secret_value(), company.model,
            timeout=settings.openai_timeout_seconds,
        )  # fmt: skip
    except UpstreamUnavailable:
        page.close(1011, "upstream unavailable")
        return
    loop = asyncio.get_running_loop()
    feed = LoopFeed(loop, upstream.send)
    call = _PhoneCall(services, hub, company, page, upstream, feed)
    bridge = TwilioBridge(
        page.send, upstream.send, on_start=call.started, on_turn_latency=call.latency,
        on_event=feed.feed,
    )  # fmt: skip
    session = build_session(
        company, services.tools.declarations(company),
        instructions=build_instructions(company) + PHONE_NOTE, audio_format=PCMU,
    )  # fmt: skip
    upstream.send(json.dumps({"type": "session.update", "session": session}))
    upstream.attach(bridge.from_openai, call.upstream_closed)
    page.attach(bridge.from_twilio, call.twilio_closed)
    await page.lost
    call.twilio_closed()
    await call.finished()
    bridge.finish()
    upstream.close()


class _PhoneCall:
    """The non-audio half of one phone call: the agent thread and the records."""

    def __init__(
        self, services: Services, hub: RelayHub, company: Any, page: Any, upstream: Any,
        feed: LoopFeed,
    ) -> None:  # fmt: skip
        self.services, self.hub, self.company = services, hub, company
        self.page, self.upstream, self.feed = page, upstream, feed
        self.session_id = "tw_" + secrets.token_urlsafe(18)
        self.agent: Any = None
        self._caller_gone = False
        self._loop = asyncio.get_running_loop()

    def started(self, start: dict[str, Any]) -> None:
        """Twilio's `start`: check the stream token, then admit, record and start the agent."""
        params = start.get("customParameters") or {}
        call_sid = str(start.get("callSid") or "")
        token = self.services.settings.twilio_auth_token
        assert token is not None
        if not valid_stream_token(
            token.get_secret_value(), self.company.id, call_sid, params.get("token")
        ):
            log.warning("twilio stream without a valid stream token; closing")
            self.page.close(CLOSE_POLICY, "stream token invalid")
            return
        caller = _caller(params.get("caller"))
        self.hub.offload(lambda: self._begin(call_sid, caller), self._agent_started)

    def _begin(self, call_sid: str, caller: str | None) -> Any:
        """On the pool (budget and record are storage calls; the first call imports the SDK)."""
        from widget_api.admission import admit, hand_over_to_call
        from widget_api.realtime.calls import CallSpec, registry_for

        services, company = self.services, self.company
        # A call spends the company's voice minutes like any voice conversation.
        admission = admit(services, company, f"phone:{call_sid}", voice=True)
        spec = CallSpec(
            call_id=self.session_id, company=company, session_id=self.session_id,
            channel="twilio", max_seconds=admission.max_seconds, greet=True,
            caller_number=caller,
        )  # fmt: skip
        hand_over_to_call(services.rate_limiter.store, self.session_id, admission)
        _record_start(services, spec)
        return registry_for(services).start(
            spec, connect=lambda _call_id: self.feed, hangup=lambda _call_id: self._hang_up()
        )

    def _agent_started(self, future: Any) -> None:
        try:
            self.agent = future.result()
        except DomainError as refused:  # budget spent or limits down: Twilio hangs up
            log.info("twilio call for %s refused: %s", self.company.id, refused.code)
            self.page.close(1000, refused.code)
            return
        except Exception:
            log.exception("phone call agent could not start")
            self.page.close(1011, "call agent failed")
            return
        if self._caller_gone:
            self.twilio_closed()

    def latency(self, first_audio_ms: float | None, first_text_ms: float | None) -> None:
        """One answered turn's figures (from the bridge, on the loop): stored off the loop."""
        from widget_api.crm.latency import record_turn_latency

        def store() -> None:
            record_turn_latency(
                self.services.db, company_id=self.company.id, session_id=self.session_id,
                channel="twilio", first_audio_ms=first_audio_ms, first_text_ms=first_text_ms,
            )  # fmt: skip

        self.hub.offload(store, lambda _f: None)

    def _hang_up(self) -> None:
        """The agent's hang-up (max duration, summary done): closing the stream ends the call."""
        self._loop.call_soon_threadsafe(self.page.close, 1000, "call ended")

    def twilio_closed(self) -> None:
        self._caller_gone = True
        if self.agent is not None and not self.agent.finished:
            self.agent.end("ended_by_caller", wait=0)  # only sets a flag: never blocks

    def upstream_closed(self) -> None:
        self.feed.end()
        self.page.close(1000, "upstream closed")

    async def finished(self) -> None:
        """Wait (without holding a thread) for the agent's summary and records."""
        deadline = self._loop.time() + 10.0
        while self.agent is not None and not self.agent.finished and self._loop.time() < deadline:
            await asyncio.sleep(0.1)


def _caller(value: Any) -> str | None:
    from widget_api.phone.directory import number_from_sip

    return number_from_sip(value) if isinstance(value, str) else None


def _record_start(services: Services, spec: Any) -> None:
    from widget_api.crm import record

    record.start_or_resume(
        services.db, company_id=spec.company.id, session_id=spec.session_id,
        transport=spec.channel, language=spec.company.language,
    )  # fmt: skip
