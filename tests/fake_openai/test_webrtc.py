"""POST /v1/realtime/calls with a real aiortc client: SDP answer, data channel, audio both ways."""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

import httpx
import pytest

from tests.fake_openai import FakeOpenAI, FunctionCall, OnSpeech, Say, Turn, sine_pcm16
from tests.fake_openai.client import RealtimeTestClient

aiortc = pytest.importorskip("aiortc")
from tests.fake_openai.webrtc import ModelAudioTrack  # noqa: E402


class Peer:
    """A browser stand-in: mic track (a tone), `oai-events` channel, remote audio counter."""

    def __init__(self) -> None:
        self.pc = aiortc.RTCPeerConnection()
        self.mic = ModelAudioTrack()
        self.pc.addTrack(self.mic)
        self.channel = self.pc.createDataChannel("oai-events")
        self.events: list[dict[str, Any]] = []
        self.loud_frames = 0
        self._readers: list[asyncio.Future[None]] = []
        self.channel.on("message", lambda m: self.events.append(json.loads(m)))
        self.pc.on("track", self._on_track)

    def _on_track(self, track: Any) -> None:
        async def read() -> None:
            while True:
                frame = await track.recv()
                pcm = bytes(frame.planes[0])[: frame.samples * 2 * len(frame.layout.channels)]
                if pcm and max(struct.unpack(f"<{len(pcm) // 2}h", pcm)) > 3000:
                    self.loud_frames += 1

        self._readers.append(asyncio.ensure_future(read()))

    async def close(self) -> None:
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        await self.pc.close()

    async def call(self, fake: FakeOpenAI, key: str) -> httpx.Response:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                fake.base_url + "/realtime/calls",
                content=self.pc.localDescription.sdp,
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/sdp"},
            )
        if answer.status_code == 201:
            await self.pc.setRemoteDescription(
                aiortc.RTCSessionDescription(sdp=answer.text, type="answer")
            )
        return answer

    async def wait(self, predicate: Any, timeout: float = 10.0) -> None:
        for _ in range(int(timeout / 0.05)):
            if predicate():
                return
            await asyncio.sleep(0.05)
        raise TimeoutError([e["type"] for e in self.events])

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def send(self, event_type: str, **fields: Any) -> None:
        self.channel.send(json.dumps({"type": event_type, **fields}))


TRANSCRIBE = {"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}}


def test_call_speech_turn_with_audio_both_ways(fake: FakeOpenAI) -> None:
    fake.script([Turn(OnSpeech("Hello?", min_audio_ms=300), Say("Hi over WebRTC", chunks=10))])
    ek = fake.mint_secret(TRANSCRIBE)

    async def run() -> None:
        peer = Peer()
        peer.mic.push(sine_pcm16(1500))  # the "user" speaks for 1.5 s
        answer = await peer.call(fake, ek)
        assert answer.status_code == 201
        assert answer.headers["content-type"].startswith("application/sdp")
        assert answer.headers["location"].startswith("/v1/realtime/calls/rtc_")
        assert answer.text.startswith("v=0")
        await peer.wait(lambda: "response.done" in peer.types())
        await peer.wait(lambda: peer.loud_frames >= 5)  # the model's tone came back over RTP
        types = peer.types()
        assert types[:2] == ["session.created", "conversation.created"]
        assert "conversation.item.input_audio_transcription.completed" in types
        assert "response.output_audio.delta" not in types  # audio rides the track
        assert types.index("output_audio_buffer.started") < types.index("response.done")
        done = next(e for e in peer.events if e["type"] == "response.output_audio_transcript.done")
        assert done["transcript"] == "Hi over WebRTC"
        await peer.close()

    asyncio.run(run())
    record = fake.ws_sessions[0]
    assert record.transport == "webrtc" and record.auth == "ephemeral"
    assert record.rtp_audio_packets > 10 and record.audio_bytes > 300 * 48


def test_sideband_answers_the_tool_call(fake: FakeOpenAI) -> None:
    fake.script(
        [
            Turn(
                OnSpeech("Price?", min_audio_ms=200),
                [
                    FunctionCall("search_knowledge", {"query": "price"}),
                    Say("Found: {tool_output}"),
                ],
            )
        ]
    )
    ek = fake.mint_secret()

    async def run() -> None:
        peer = Peer()
        answer = await peer.call(fake, ek)
        call_id = answer.headers["location"].rsplit("/", 1)[-1]
        await peer.wait(lambda: "session.created" in peer.types())
        sideband = await asyncio.to_thread(
            RealtimeTestClient, f"{fake.ws_url}?call_id={call_id}", api_key=fake.api_key
        )
        assert (await asyncio.to_thread(sideband.recv))["type"] == "session.created"
        assert (await asyncio.to_thread(sideband.recv))["type"] == "conversation.created"
        peer.mic.push(sine_pcm16(600))
        events = await asyncio.to_thread(sideband.recv_until, "response.done")
        call = next(e for e in events if e["type"] == "response.output_item.done")["item"]
        assert call["name"] == "search_knowledge"
        sideband.send(
            "conversation.item.create",
            item={"type": "function_call_output", "call_id": call["call_id"], "output": "$49"},
        )
        sideband.send("response.create")
        await peer.wait(lambda: peer.types().count("response.done") == 2)
        spoken = [
            e["transcript"]
            for e in peer.events
            if e["type"] == "response.output_audio_transcript.done"
        ]
        assert spoken == ["Found: $49"]
        # the sideband sees the same events; drain them so its close handshake is not queued
        following = await asyncio.to_thread(sideband.recv_until, "response.done")
        assert following[-1]["response"]["output"][0]["content"][0]["transcript"] == "Found: $49"
        await asyncio.to_thread(sideband.close)
        await peer.close()

    asyncio.run(run())


def test_sideband_with_ephemeral_key_or_unknown_call_is_404(fake: FakeOpenAI) -> None:
    from websockets.exceptions import InvalidStatus

    ek = fake.mint_secret()

    def handshake_status(url: str, **kwargs: Any) -> int:
        with pytest.raises(InvalidStatus) as info:
            RealtimeTestClient(url, **kwargs)
        return info.value.response.status_code

    async def run() -> None:
        peer = Peer()
        answer = await peer.call(fake, ek)
        call_id = answer.headers["location"].rsplit("/", 1)[-1]
        with_ek = await asyncio.to_thread(
            handshake_status,
            f"{fake.ws_url}?call_id={call_id}",
            headers={"Authorization": f"Bearer {ek}"},
        )
        unknown = await asyncio.to_thread(
            handshake_status, f"{fake.ws_url}?call_id=rtc_unknown", api_key=fake.api_key
        )
        assert (with_ek, unknown) == (404, 404)
        await peer.close()

    asyncio.run(run())


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({}, "v=0\r\n", 401, "invalid_api_key"),
        ({"Authorization": "Bearer ek_unknown"}, "v=0\r\n", 401, "invalid_api_key"),
        ({"Content-Type": "application/json"}, '{"sdp": "v=0"}', 400, "invalid_offer"),
        ({}, "not sdp", 400, "invalid_offer"),
        ({}, "v=0\r\n", 400, "invalid_offer"),  # parses, but no media to negotiate
    ],
)
def test_calls_rejects_bad_requests(
    fake: FakeOpenAI, headers: dict[str, str], body: str, status: int, code: str
) -> None:
    ek = fake.mint_secret()
    sent = {"Authorization": f"Bearer {ek}", "Content-Type": "application/sdp", **headers}
    if not headers.get("Authorization", "x"):
        sent.pop("Authorization")
    if status == 401 and "Authorization" not in headers:
        sent.pop("Authorization")
    answer = httpx.post(fake.base_url + "/realtime/calls", content=body, headers=sent)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code


def test_multipart_offer_with_standard_key_uses_the_session_part(fake: FakeOpenAI) -> None:
    session = {"type": "realtime", "instructions": "Sideband-configured."}

    async def run() -> None:
        peer = Peer()
        await peer.pc.setLocalDescription(await peer.pc.createOffer())
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                fake.base_url + "/realtime/calls",
                headers={"Authorization": f"Bearer {fake.api_key}"},
                files={
                    "sdp": (None, peer.pc.localDescription.sdp, "application/sdp"),
                    "session": (None, json.dumps(session), "application/json"),
                },
            )
        assert answer.status_code == 201
        await peer.pc.setRemoteDescription(
            aiortc.RTCSessionDescription(sdp=answer.text, type="answer")
        )
        await peer.wait(lambda: "session.created" in peer.types())
        assert peer.events[0]["session"]["instructions"] == "Sideband-configured."
        await peer.close()

    asyncio.run(run())


def test_calls_fault_answers_500(fake: FakeOpenAI) -> None:
    fake.set_fault("http_500", endpoint="calls", times=1)
    ek = fake.mint_secret()

    async def run() -> int:
        peer = Peer()
        answer = await peer.call(fake, ek)
        await peer.close()
        return answer.status_code

    assert asyncio.run(run()) == 500
