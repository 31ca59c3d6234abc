"""Phone calls end to end: Twilio Media Streams through `/ws/twilio/<id>`, and OpenAI SIP."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from sqlalchemy import select
from websockets.exceptions import InvalidStatus

from tests import isolated_loop
from tests.fake_openai import FakeOpenAI, FunctionCall, OnResponseCreate, OnSpeech, Say, Turn
from tests.fake_openai.call_control import incoming_payload, sign
from tests.fake_openai.sdk_types import check_accept, check_client_event
from tests.phone.conftest import ACME_NUMBER, AUTH_TOKEN, CALLER, WEBHOOK_SECRET
from tests.phone.fake_twilio import TwilioStream
from widget_api.crm.latency import session_turn_latencies
from widget_api.crm.models import Base, Conversation, Lead
from widget_api.crm.privacy import export_person, forget_person
from widget_api.phone.twilio_signature import twilio_signature

VOICE_PATH = "/api/phone/twilio/acme/voice"
WEBHOOK_PATH = "/api/phone/openai/webhook"


def _stream_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/ws/twilio/acme"


def _conversation(services: Any, **where: Any) -> Conversation | None:
    with services.db.session() as session:
        query = select(Conversation).order_by(Conversation.id.desc())
        for key, value in where.items():
            query = query.where(getattr(Conversation, key) == value)
        return session.scalars(query).first()


# -- Twilio ---------------------------------------------------------------------------------


def test_twiml_requires_the_signature_and_connects_the_stream(
    phone_app: Any, phone_base: str
) -> None:
    client = phone_app.test_client()
    form = {"CallSid": "CA123", "From": CALLER, "To": ACME_NUMBER}
    assert client.post(VOICE_PATH, data=form).status_code == 403
    signature = twilio_signature(AUTH_TOKEN, phone_base + VOICE_PATH, form)
    response = client.post(VOICE_PATH, data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200 and response.mimetype == "text/xml"
    twiml = response.get_data(as_text=True)
    assert f'<Stream url="{_stream_url(phone_base)}">' in twiml
    assert '<Parameter name="token"' in twiml and f'value="{CALLER}"' in twiml
    tampered = {**form, "From": "+15550000000"}
    bad = client.post(VOICE_PATH, data=tampered, headers={"X-Twilio-Signature": signature})
    assert bad.json["error"]["code"] == "twilio_signature_invalid"


def test_unsigned_stream_is_refused(phone_base: str) -> None:
    async def run() -> None:
        stream = TwilioStream(_stream_url(phone_base), auth_token=AUTH_TOKEN, company_id="acme")
        with pytest.raises(InvalidStatus) as refused:
            await stream.open(signature="not-a-signature")
        assert refused.value.response.status_code == 403

    isolated_loop.run(run())


def test_twilio_call_passes_pcmu_through_runs_tools_and_records(
    phone_fake: FakeOpenAI, phone_base: str, phone_services: Any
) -> None:
    phone_fake.script(
        [
            Turn(OnResponseCreate(), Say("Hi, Maya from Acme.", chunks=4, ms_per_chunk=100)),
            Turn(OnSpeech("I'm Dana, dana@example.com", min_audio_ms=300), [
                FunctionCall("log_lead", {"name": "Dana", "email": "dana-phone@example.com",
                                          "interest": "pricing"}),
                Say("Thanks Dana, we'll be in touch.", chunks=2, delay_s=0.3),
            ]),
        ],
        fallback=Say("Dana asked about pricing.", chunks=1),
    )  # fmt: skip

    async def run() -> TwilioStream:
        stream = TwilioStream(_stream_url(phone_base), auth_token=AUTH_TOKEN, company_id="acme",
                              caller=CALLER)  # fmt: skip
        await stream.open()
        await _until(lambda: len(stream.received.media) >= 4)  # the greeting
        await asyncio.sleep(0.5)  # let it play out before the caller talks
        await stream.speak(0.5)
        await _until(lambda: len(stream.received.media) >= 6, timeout=15)  # the answer
        await stream.stop()
        await stream.close()
        return stream

    stream = isolated_loop.run(run())
    greeting = b"".join(base64.b64decode(p) for _, p in stream.received.media[:4])
    assert len(greeting) == 400 * 8  # 400 ms of 8 kHz mu-law, unchanged (no resampling)
    upstream = next(r for r in phone_fake.ws_sessions if r.transport == "websocket")
    update = upstream.received("session.update")[0]
    check_client_event(update)
    audio = update["session"]["audio"]
    assert audio["input"]["format"] == audio["output"]["format"] == {"type": "audio/pcmu"}
    appended = upstream.event_counts["input_audio_buffer.append"]
    assert appended == 25  # every caller frame went up
    row = phone_fake.wait_for(
        lambda f: (c := _conversation(phone_services, transport="twilio")) and c.ended_at and c,
        timeout=15,
    )
    assert row.end_reason == "ended_by_caller" and row.summary == "Dana asked about pricing."
    with phone_services.db.session() as session:
        lead = session.scalars(select(Lead).where(Lead.email == "dana-phone@example.com")).one()
    assert lead.phone == CALLER  # the caller's number, on the lead only
    # One row for the one answered turn (the tool call's response and the summary add none):
    # both figures from the same end of speech, past the answer's scripted 0.3 s think time.
    # The fake sends each transcript delta right after its audio, so text never comes first.
    [(channel, turn, audio, text)] = session_turn_latencies(phone_services.db, row.session_id)
    assert (channel, turn) == ("twilio", 1)
    assert audio is not None and text is not None and 300 <= audio <= text
    # Personal data: the export holds the caller's number, and after forget nothing does.
    assert CALLER in json.dumps(export_person(phone_services.db, "acme", lead.email), default=str)
    assert CALLER in _everything_stored(phone_services)
    forget_person(phone_services.db, "acme", lead.email)
    assert CALLER not in _everything_stored(phone_services)


def _everything_stored(services: Any) -> str:
    """Every row of every table, as text (the caller's number must be where forget reaches)."""
    with services.db.session() as session:
        return "\n".join(
            repr(tuple(row)) for table in Base.metadata.sorted_tables
            for row in session.execute(select(table))
        )  # fmt: skip


def test_caller_barging_in_clears_twilio_and_truncates_what_was_not_heard(
    phone_fake: FakeOpenAI, phone_base: str
) -> None:
    phone_fake.script([
        Turn(OnResponseCreate(), Say("A long greeting that goes on.", chunks=30, ms_per_chunk=100,
                                     pace_s=0.05)),
        Turn(OnSpeech("Stop, a question", min_audio_ms=400, barge_in=True), Say("Sure.")),
    ])  # fmt: skip

    async def run() -> TwilioStream:
        stream = TwilioStream(_stream_url(phone_base), auth_token=AUTH_TOKEN, company_id="acme")
        await stream.open()
        await _until(lambda: len(stream.received.media) >= 5)
        await asyncio.sleep(0.3)
        await stream.speak(0.6)
        await _until(lambda: stream.received.clears >= 1, timeout=10)
        await stream.close()
        return stream

    stream = isolated_loop.run(run())
    assert stream.received.clears == 1
    upstream = next(r for r in phone_fake.ws_sessions if r.transport == "websocket")
    truncate = phone_fake.wait_for(
        lambda f: next(r for r in f.ws_sessions if r.id == upstream.id).received(
            "conversation.item.truncate"
        )
    )[0]
    check_client_event(truncate)
    # Heard: played at real time since the greeting started, far less than the 3 s generated.
    assert 0 < truncate["audio_end_ms"] < 2500


async def _until(predicate: Any, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


# -- OpenAI SIP -----------------------------------------------------------------------------


def test_sip_call_is_accepted_for_the_dialled_company_and_hung_up_at_max_duration(
    phone_fake: FakeOpenAI, phone_base: str, phone_services: Any
) -> None:
    phone_fake.script([
        Turn(OnResponseCreate(), Say("Acme, Maya speaking.", chunks=2)),
        Turn(OnSpeech("Do you integrate with Zendesk?", min_audio_ms=200),
             Say("Yes, we do.", chunks=2, delay_s=0.3)),
    ], fallback=Say("Short SIP call.", chunks=1))  # fmt: skip
    call_id, status = phone_fake.incoming_sip_call(
        phone_base + WEBHOOK_PATH, WEBHOOK_SECRET, to_number=ACME_NUMBER, from_number=CALLER
    )
    assert status == 200
    accept = next(a for a in phone_fake.call_actions if a["action"] == "accept")
    assert accept["call_id"] == call_id
    check_accept(accept["body"])  # the SDK's own type for /accept
    assert accept["body"]["model"] == "gpt-realtime-2"
    sideband = phone_fake.wait_for(
        lambda f: next((r for r in f.ws_sessions if r.transport == "sideband"), None)
    )
    assert sideband.call_id == call_id and sideband.auth == "api_key"
    phone_fake.wait_for(lambda f: next(r for r in f.ws_sessions if r.call_id == call_id
                                       and r.transport == "sip").responses)  # fmt: skip
    phone_fake.sip_speak(call_id, 300)  # the caller asks once the greeting is over
    # The rep greets first; the call ends at the company's maximum duration (8 s here).
    hangup = phone_fake.wait_for(
        lambda f: [a for a in f.call_actions if a["action"] == "hangup"], timeout=20
    )
    assert hangup[0]["call_id"] == call_id and phone_fake.sip_call_status(call_id) == "ended"
    row = phone_fake.wait_for(
        lambda f: (c := _conversation(phone_services, transport="sip")) and c.ended_at and c
    )
    assert (row.end_reason, row.summary) == ("max_duration", "Short SIP call.")
    # Time to first audio and to first text as the sideband sees them: end of speech to the
    # output buffer starting and to the first transcript delta, one row for the one answer
    # (the sideband learns of the end of speech a moment after the model, hence 250 not 300).
    [(channel, turn, audio, text)] = session_turn_latencies(phone_services.db, row.session_id)
    assert (channel, turn) == ("sip", 1)
    assert audio is not None and text is not None and 250 <= audio <= text


def test_sip_call_to_an_unknown_number_is_rejected(
    phone_fake: FakeOpenAI, phone_base: str
) -> None:
    call_id, status = phone_fake.incoming_sip_call(
        phone_base + WEBHOOK_PATH, WEBHOOK_SECRET, to_number="+15559999999", from_number=CALLER
    )
    assert status == 200
    assert [(a["action"], a["body"]) for a in phone_fake.call_actions] == [
        ("reject", {"status_code": 404})
    ]
    assert phone_fake.sip_call_status(call_id) == "rejected"


def test_sip_webhook_with_a_bad_signature_is_refused(phone_app: Any) -> None:
    payload = json.dumps(incoming_payload("rtc_x", ACME_NUMBER, CALLER))
    headers = {"webhook-id": "evt_1", "webhook-timestamp": "1700000000",
               "webhook-signature": sign(WEBHOOK_SECRET, "evt_1", 1700000000, payload)}  # fmt: skip
    response = phone_app.test_client().post(
        WEBHOOK_PATH, data=payload, headers=headers, content_type="application/json"
    )
    assert response.status_code == 400  # stale timestamp: a replay
    assert response.json["error"]["code"] == "webhook_signature_invalid"


def test_sip_call_is_refused_busy_when_the_voice_budget_is_spent(
    phone_fake: FakeOpenAI, phone_base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from widget_api import admission
    from widget_api.errors import ApiError

    def spent(*args: Any, **kwargs: Any) -> Any:
        raise ApiError("voice_budget_spent")

    monkeypatch.setattr(admission, "admit", spent)
    _call_id, status = phone_fake.incoming_sip_call(
        phone_base + WEBHOOK_PATH, WEBHOOK_SECRET, to_number=ACME_NUMBER, from_number=CALLER
    )
    assert status == 200
    assert [(a["action"], a["body"]) for a in phone_fake.call_actions] == [
        ("reject", {"status_code": 486})
    ]
