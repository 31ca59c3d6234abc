"""Fault injection per endpoint (`client_secrets`, `realtime`, `calls`), set from any thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Literal, get_args

FaultKind = Literal[
    "refuse",
    "http_500",
    "slow",
    "malformed_json",
    "close_mid_response",
    "never_answer",
    "session_expired",
    "no_media",
]
Endpoint = Literal["client_secrets", "realtime", "calls"]
ENDPOINTS: tuple[Endpoint, ...] = ("client_secrets", "realtime", "calls")
FAULT_KINDS: frozenset[str] = frozenset(get_args(FaultKind))


@dataclass(frozen=True)
class Fault:
    """One injected failure.

    - `refuse`: close the TCP connection without answering (for the whole server with
      `endpoint=None`: stop listening, so connects get ECONNREFUSED).
    - `http_500`: answer 500 with OpenAI's error envelope (WS: at the handshake).
    - `slow`: wait `seconds` before answering (WS: before the handshake answer).
    - `malformed_json`: REST answers 200 with a truncated JSON body; WS sends one non-JSON text
      frame before `session.created`.
    - `close_mid_response`: REST sends half the body then drops the connection; WS closes the
      socket after `after_deltas` output deltas of the next response (`close_code=None` drops
      TCP without a close frame).
    - `never_answer`: hold the request open until the fake stops.
    - `session_expired` (realtime only): `seconds` after `session.created`, an `error` event with
      code `session_expired`, then the server closes the socket (code 1000), as at 60 minutes.
    - `no_media` (calls only): answer 201 with a real SDP answer, then drop the peer at once, so
      ICE never connects and the data channel never opens (a browser's connect timeout).
    `times` limits how many requests the fault hits (None: until cleared).
    """

    kind: FaultKind
    seconds: float = 0.0
    times: int | None = None
    after_deltas: int = 1
    close_code: int | None = 1011


class FaultBoard:
    """The active fault per endpoint; `take` consumes one use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}

    def set(self, endpoint: Endpoint, fault: Fault) -> None:
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {ENDPOINTS}")
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {fault.kind!r}; expected one of {sorted(FAULT_KINDS)}")
        with self._lock:
            self._faults[endpoint] = fault

    def clear(self, endpoint: Endpoint | None = None) -> None:
        with self._lock:
            if endpoint is None:
                self._faults.clear()
            else:
                self._faults.pop(endpoint, None)

    def peek(self, endpoint: Endpoint) -> Fault | None:
        with self._lock:
            return self._faults.get(endpoint)

    def take(self, endpoint: Endpoint) -> Fault | None:
        """The fault for one request to `endpoint`, counting down `times`."""
        with self._lock:
            fault = self._faults.get(endpoint)
            if fault is None:
                return None
            if fault.times is not None:
                if fault.times <= 1:
                    del self._faults[endpoint]
                else:
                    self._faults[endpoint] = replace(fault, times=fault.times - 1)
            return fault
