"""WebRTC calls with aiortc: the `oai-events` data channel plays the script, audio rides RTP.

`POST /v1/realtime/calls` hands the SDP offer to `accept_call`, which answers it with a real
aiortc peer connection. The data channel runs the same `RealtimeSession` as the WebSocket, with
model audio pushed to an outgoing Opus track instead of `response.output_audio.delta` events
(whether the real API also sends those on the data channel is unconfirmed; we don't), and the
browser's microphone track decoded and fed to the simulated VAD.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import time
from typing import Any, cast

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, AudioResampler

from .protocol import PCM_RATE
from .recording import ConnectionRecord
from .session import RealtimeSession
from .state import FakeState

logger = logging.getLogger(__name__)

FRAME_SAMPLES = PCM_RATE // 50  # 20 ms
FRAME_BYTES = FRAME_SAMPLES * 2


class ModelAudioTrack(MediaStreamTrack):
    """The model's voice: queued PCM16 24 kHz, paced in real time, silence when idle."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue = bytearray()
        self._start: float | None = None
        self._pts = 0

    def push(self, pcm: bytes) -> None:
        self._queue += pcm

    def clear(self) -> None:
        self._queue.clear()

    @property
    def queued(self) -> int:
        """Bytes not yet played out (`output_audio_buffer.stopped` waits for zero)."""
        return len(self._queue)

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            await asyncio.sleep(max(0.0, self._start + self._pts / PCM_RATE - time.time()))
        chunk = bytes(self._queue[:FRAME_BYTES]).ljust(FRAME_BYTES, b"\x00")
        del self._queue[:FRAME_BYTES]
        frame = AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(chunk)
        frame.sample_rate = PCM_RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, PCM_RATE)
        self._pts += FRAME_SAMPLES
        return frame


class Call:
    """One WebRTC call: peer connection, outgoing track and the scripted session."""

    def __init__(self, state: FakeState, call_id: str, auth: str, session: dict[str, Any]) -> None:
        self.state, self.call_id = state, call_id
        self.pc = RTCPeerConnection()
        self.track = ModelAudioTrack()
        self.record: ConnectionRecord = state.recorder.new_connection("webrtc")
        state.recorder.update(
            self.record, call_id=call_id, auth=auth, session=session, model=session.get("model")
        )
        self.session = RealtimeSession(
            send_text=self._send,
            close=self._close_from_fault,
            record=self.record,
            recorder=state.recorder,
            script=state.script,
            session=session,
            audio_sink=self.track,
        )
        self.channel: Any = None
        self._inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self.pc.addTrack(self.track)
        self.pc.on("datachannel", self._on_datachannel)
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)

    async def answer(self, offer: str) -> str:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription.sdp

    async def _send(self, text: str) -> None:
        """Server events go to the data channel once it is open (a sideband may come first)."""
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(text)

    def _on_datachannel(self, channel: Any) -> None:
        if channel.label != "oai-events" or self.channel is not None:
            return
        self.channel = channel
        channel.on(
            "message",
            lambda message: self._inbox.put_nowait(
                message if isinstance(message, str) else message.decode("utf-8", "replace")
            ),
        )
        channel.on("close", lambda: self._inbox.put_nowait(None))
        self._tasks.append(asyncio.ensure_future(self._serve()))

    async def _serve(self) -> None:
        """Handle client events one at a time, in arrival order."""
        with contextlib.suppress(Exception):
            await self.session.open()
            while (text := await self._inbox.get()) is not None:
                await self.session.handle_text(text)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._tasks.append(asyncio.ensure_future(self._listen(track)))

    async def _listen(self, track: MediaStreamTrack) -> None:
        """Decode the microphone track to PCM16 24 kHz mono and feed the simulated VAD."""
        resampler = AudioResampler(format="s16", layout="mono", rate=PCM_RATE)
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = cast(AudioFrame, await track.recv())
                with self.state.recorder.lock:
                    self.record.rtp_audio_packets += 1
                pcm = b"".join(
                    bytes(f.planes[0])[: f.samples * 2] for f in resampler.resample(frame)
                )
                if pcm:
                    await self.session.input_audio.feed(pcm)

    async def _on_state(self) -> None:
        if self.pc.connectionState in ("failed", "closed"):
            await self.close(closed_by="client")

    async def _close_from_fault(self, code: int | None) -> None:
        await self.close(closed_by="server")

    async def close(self, *, closed_by: str = "server") -> None:
        if self.record.closed:
            return
        self.state.recorder.update(self.record, closed=True, closed_by=closed_by)
        self._inbox.put_nowait(None)
        await self.session.shutdown()
        for task in self._tasks:
            task.cancel()
        self.track.stop()
        await self.pc.close()
        for ws in list(self.state.extras.get("sidebands", {}).get(self.call_id, ())):
            with contextlib.suppress(Exception):
                await ws.close(code=1000)  # the call is over for every connection to it


def install(state: FakeState) -> None:
    """Make `/v1/realtime/calls` answer with real WebRTC (called when aiortc imports)."""
    calls: dict[str, Call] = {}

    async def accept_call(call_id: str, offer: str, auth: str, session: dict[str, Any]) -> str:
        call = Call(state, call_id, auth, session)
        try:
            answer = await call.answer(offer)
        except Exception:
            await call.close()
            raise
        calls[call_id] = call
        return answer

    async def close_calls() -> None:
        await asyncio.gather(*(c.close() for c in calls.values()), return_exceptions=True)

    state.extras["accept_call"] = accept_call
    state.extras["close_calls"] = close_calls
    state.extras["call_objects"] = calls
