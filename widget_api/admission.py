"""Admitting paid conversations: one budget for WebRTC client secrets and relay upstreams.

Every conversation that costs OpenAI money starts here, whichever way it connects: a client
secret minted by `POST /api/realtime/session` (WebRTC) and an upstream Realtime connection
opened by the relay. Both spend the same session limits (per address, per company, per day;
`rate_limit.SessionRateLimiter`) and, for voice, the company's daily voice minutes.

Voice minutes are reserved up front: a conversation may run for at most what it reserved
(the company's maximum duration, or less when less is left today), so the day's total can never
overrun the budget however many conversations run at once, on however many workers. A relayed
conversation gives back what it did not use when it ends; a WebRTC conversation runs between
the browser and OpenAI, so its whole reservation counts. `limits` windows cannot give events
back, so the reservation is a plain counter on the same storage (atomic INCRBY on Redis).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from widget_api.errors import DomainError
from widget_api.rate_limit import LimitStore, LimitsUnavailable, retry_after

if TYPE_CHECKING:
    from widget_api.companies.models import CompanyConfig
    from widget_api.contracts import ConversationLog
    from widget_api.services import Services
    from widget_api.settings import Settings

log = logging.getLogger(__name__)

# Less than this left today is not worth starting a voice conversation on.
MIN_VOICE_SECONDS = 60
_DAY = 86400


def max_conversation_seconds(company: CompanyConfig, settings: Settings) -> int:
    """The company's conversation time limit; never above the server's."""
    ceiling = settings.relay_max_session_seconds
    if company.max_conversation_minutes is None:
        return ceiling
    return min(ceiling, company.max_conversation_minutes * 60)


def voice_seconds_per_day(company: CompanyConfig, settings: Settings) -> int:
    minutes = company.voice_minutes_per_day
    if minutes is None:
        minutes = settings.voice_minutes_per_day_per_company
    return minutes * 60


def _no_refund(_seconds: int) -> None:
    return None


@dataclass
class Admission:
    """A conversation allowed to spend: its time limit and what it reserved of today's voice."""

    max_seconds: int
    reserved_seconds: int = 0
    _refund: Callable[[int], None] = field(default=_no_refund, repr=False)
    day: int = -1  # the UTC day (days since the epoch) the voice seconds were reserved on
    _settled: bool = field(default=False, repr=False)

    def settle(self, used_seconds: float) -> None:
        """Give back the reserved voice seconds the conversation did not use (once)."""
        if self._settled:
            return
        self._settled = True
        unused = self.reserved_seconds - math.ceil(max(used_seconds, 0.0))
        if unused > 0:
            try:
                self._refund(unused)
            except LimitsUnavailable:
                log.warning("voice budget: could not give back %d unused seconds", unused)


class VoiceMinutes:
    """A company's voice seconds used per UTC day, on the process's limit storage."""

    def __init__(self, store: LimitStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def reserve(self, company_id: str, wanted: int, budget: int) -> tuple[int, float]:
        """Reserve up to `wanted` seconds of today's `budget`.

        Returns (granted seconds, seconds until the next UTC day); 0 granted when less than
        MIN_VOICE_SECONDS (or `wanted`, when that is shorter) is left. The INCRBY is atomic,
        so concurrent reservations see a strict order and their grants never add up to more
        than the budget.
        """
        now = self._clock()
        key, until_tomorrow = self._key(company_id, now), _DAY - now % _DAY
        total = self._store.add(key, wanted, 2 * _DAY)
        granted = min(wanted, budget - (total - wanted))
        if granted < min(MIN_VOICE_SECONDS, wanted):
            self._store.add(key, -wanted, 2 * _DAY)
            return 0, until_tomorrow
        if granted < wanted:
            self._store.add(key, granted - wanted, 2 * _DAY)
        return granted, until_tomorrow

    def refunder(self, company_id: str, day: int | None = None) -> Callable[[int], None]:
        """Gives seconds back to the day they were reserved on (not to a later one)."""
        key = self._key(company_id, self._clock() if day is None else day * _DAY)

        def refund(seconds: int) -> None:
            self._store.add(key, -seconds, 2 * _DAY)

        return refund

    def today(self) -> int:
        return int(self._clock() // _DAY)

    @staticmethod
    def _key(company_id: str, now: float) -> str:
        return f"voice-seconds/{company_id}/{int(now // _DAY)}"


def admit(services: Services, company: CompanyConfig, client: str, *, voice: bool) -> Admission:
    """Spend one conversation start of the company's budget, or raise why not.

    Raises DomainError `rate_limited` / `daily_cap_reached` / `voice_budget_spent` (429, with a
    retry time) or `limits_unavailable` (503: the shared storage is down, and paid
    conversations fail closed).
    """
    settings = services.settings
    longest = max_conversation_seconds(company, settings)
    limiter = services.rate_limiter
    try:
        limiter.check(company.id, client)
        if not voice:
            return Admission(max_seconds=longest)
        minutes = VoiceMinutes(limiter.store)
        budget = voice_seconds_per_day(company, settings)
        granted, until_tomorrow = minutes.reserve(company.id, longest, budget)
    except LimitsUnavailable as exc:
        log.warning("limit storage unavailable (%s): refusing a paid conversation", exc)
        raise DomainError("limits_unavailable") from None
    if not granted:
        raise DomainError("voice_budget_spent", details=retry_after(until_tomorrow))
    return Admission(granted, granted, minutes.refunder(company.id), day=minutes.today())


# A WebRTC conversation's reservation outlives the request that made it: the call's server
# side (the sideband agent, on whichever worker the widget reports the call to) settles it.
_CLAIM = 10**9


def hand_over_to_call(store: LimitStore, session_id: str, admission: Admission) -> None:
    """Keep a minted conversation's reservation until its call ends (`settle_call`)."""
    if admission.reserved_seconds <= 0:
        return
    try:
        # A resumed conversation's next call starts afresh: not joined, on today's day.
        store.forget(f"voice-call/{session_id}/joined")
        store.forget(f"voice-call/{session_id}/day")
        store.add(f"voice-call/{session_id}/seconds", admission.reserved_seconds, 2 * _DAY)
        store.add(f"voice-call/{session_id}/day", admission.day + 1, 2 * _DAY)  # 0: none
    except LimitsUnavailable:
        log.warning("voice budget: a call's reservation was not kept; it stays spent")


def settle_call(store: LimitStore, company_id: str, session_id: str, used_seconds: float) -> None:
    """Give back what a WebRTC call did not use of its reservation; once, from any worker.

    One INCRBY takes the whole reservation (a second settle of the same call finds nothing),
    so no lock is needed across workers. Calls without a reservation (phone) are a no-op.
    """
    try:
        seconds_key = f"voice-call/{session_id}/seconds"
        claimed = store.add(seconds_key, -_CLAIM, 2 * _DAY) + _CLAIM
        if claimed <= 0:
            return
        store.forget(seconds_key)  # a resumed conversation's next call starts from zero
        day = store.add(f"voice-call/{session_id}/day", 0, 2 * _DAY) - 1
        unused = claimed - math.ceil(max(used_seconds, 0.0))
        if day >= 0 and unused > 0:
            VoiceMinutes(store).refunder(company_id, day)(unused)
    except LimitsUnavailable:
        log.warning("voice budget: a call's unused seconds were not given back")


def mark_call_joined(store: LimitStore, session_id: str) -> None:
    """The browser's call connected: its reservation belongs to the call from now on."""
    try:
        store.add(f"voice-call/{session_id}/joined", 1, 2 * _DAY)
    except LimitsUnavailable:
        log.warning("voice budget: a joined call was not marked")


def take_over_call(store: LimitStore, company_id: str, session_id: str) -> Admission | None:
    """The reservation of a WebRTC call that never connected, for the relay to continue on.

    Under the `auto` transport a failed WebRTC connect falls back to the relay within the same
    conversation. The session route already spent that conversation's start and reserved its
    voice minutes, so the relay takes the reservation over instead of spending a second start.
    None when there is nothing to take: no reservation, already settled or taken, or a call
    that joined (a live call keeps its own). One INCRBY claims it, as in `settle_call`, so two
    relays (or a relay and the call's settle) never both get it.
    """
    seconds_key = f"voice-call/{session_id}/seconds"
    try:
        if store.add(f"voice-call/{session_id}/joined", 0, 2 * _DAY) > 0:
            return None
        claimed = store.add(seconds_key, -_CLAIM, 2 * _DAY) + _CLAIM
        if claimed <= 0:
            store.add(seconds_key, _CLAIM, 2 * _DAY)  # nothing was there: leave it as found
            return None
        store.forget(seconds_key)
        day = store.add(f"voice-call/{session_id}/day", 0, 2 * _DAY) - 1
        store.add(f"voice-call/{session_id}/text", 1, 2 * _DAY)  # see `continue_in_text`
    except LimitsUnavailable:
        return None  # the caller admits afresh, which fails closed on the same storage
    if day < 0:
        return Admission(claimed, claimed)
    return Admission(claimed, claimed, VoiceMinutes(store).refunder(company_id, day), day=day)


def continue_in_text(store: LimitStore, session_id: str, max_seconds: int) -> Admission | None:
    """The `auto` fallback's last step: a relay that took over a call and then failed (no
    audio in this browser) goes on in text within the same conversation, on the same start.

    Once per take-over (one INCRBY claims it), so a failed call never buys more than one text
    conversation. None when there is nothing to continue.
    """
    key = f"voice-call/{session_id}/text"
    try:
        if store.add(key, -1, 2 * _DAY) == 0:
            return Admission(max_seconds)
        store.add(key, 1, 2 * _DAY)  # nothing was there: leave it as found
    except LimitsUnavailable:
        pass  # the caller admits afresh, which fails closed on the same storage
    return None


class MeteredConversationLog:
    """A conversation record that also settles the admission when the conversation ends.

    Only time spent relayed to OpenAI counts (from the relay's `started("relay-…")`); a
    conversation that fell back to the local engine gives its whole reservation back.
    """

    def __init__(
        self,
        inner: ConversationLog,
        admission: Admission,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._admission = admission
        self._clock = clock
        self._relayed_since: float | None = None

    def started(self, transport: str) -> None:
        if transport.startswith("relay"):
            self._relayed_since = self._clock()
        self._inner.started(transport)

    def turn(self) -> None:
        self._inner.turn()

    def turn_latency(self, first_audio_ms: float | None, first_text_ms: float | None) -> None:
        self._inner.turn_latency(first_audio_ms, first_text_ms)

    def ended(self) -> None:
        since = self._relayed_since
        self._admission.settle(0.0 if since is None else self._clock() - since)
        self._inner.ended()
