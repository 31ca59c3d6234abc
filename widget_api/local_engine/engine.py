"""The local text engine: a rule-routed, tool-grounded text assistant with no language model.

It stands in for the Realtime API when no OpenAI key is configured or OpenAI is unreachable, and
speaks the same event protocol (`response.output_text.delta/done`, `widget.tool_result`), so
the widget needs no second code path. Every fact it states comes from a tool: answers are
sentences extracted from `search_knowledge` hits with their sources, clips come from
`get_demo_clip`, booking links from `create_meeting_link`, leads go through `log_lead`.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from widget_api import protocol
from widget_api.contracts import RunTool, ToolOutcomeLike
from widget_api.local_engine.answers import Encoder, extract_answer, hits_from_result
from widget_api.local_engine.contact import Contact, extract_contact
from widget_api.local_engine.intents import Intent, classify

log = logging.getLogger(__name__)

Emit = Callable[[dict[str, Any]], None]
ToolObserver = Callable[[str, str, str, str, bool], None]


def text_introduction(display_name: str) -> str:
    """The text assistant's first words: plainly a text assistant, not the voice persona."""
    return (
        f"You're chatting with {display_name}'s text assistant. I can answer from our "
        "documentation, show demo clips and book a meeting."
    )


class LocalEngine:
    """One visitor's text conversation; `respond` emits the events of one answer."""

    def __init__(self, *, display_name: str, run_tool: RunTool, encoder: Encoder) -> None:
        self._name = display_name
        self._run_tool = run_tool
        self._encoder = encoder
        self._contact = Contact()
        self._lead_logged_for: tuple[str, str] | None = None
        self._topics: list[str] = []

    def introduction(self) -> str:
        """Why a voice conversation became text: plainly, this is now a text assistant."""
        return (
            f"You're chatting with {self._name}'s text assistant. Voice isn't available right "
            "now, but I can answer from our documentation, show demo clips and book a meeting."
        )

    def observe_tools(self, observer: ToolObserver) -> None:
        """Report every tool call (id, name, arguments, output, ok) to `observer` (the record)."""
        run_tool = self._run_tool

        def observed(call_id: str, name: str, arguments: str) -> ToolOutcomeLike:
            outcome = run_tool(call_id, name, arguments)
            observer(call_id, name, arguments, outcome.output, outcome.ok)
            return outcome

        self._run_tool = observed

    def restore(self, history: list[tuple[str, str]], contact: tuple[str, str] | None) -> None:
        """Continue a conversation: contact details and topics from what the visitor said."""
        for role, text in history:
            if role != "user":
                continue
            self._contact, _ = extract_contact(text, self._contact)
            if classify(text, has_contact_details=False).question:
                self._topics.append(text[:200])
        if contact is not None:
            name, email = contact
            self._contact = Contact(name=self._contact.name or name, email=email,
                                    company=self._contact.company)  # fmt: skip
            self._lead_logged_for = (self._contact.name or name, email)

    def respond(self, text: str, emit: Emit) -> None:
        """Answer one visitor message: run the tools it calls for, then reply in text."""
        self._contact, contact_changed = extract_contact(text, self._contact)
        intent = classify(text, has_contact_details=contact_changed)
        response_id = f"resp_{uuid.uuid4().hex[:16]}"
        emit(_event("response.created", response=_response("in_progress", response_id)))
        reply: list[str] = []
        if intent.identity:
            reply.append(
                f"I'm an automated text assistant for {self._name}, not a person, and I can't do "
                "voice right now. A colleague from sales can follow up if you leave your details."
            )
        if intent.greeting_only and not intent.identity:
            reply.append(f"Hello! Ask me anything about {self._name}: features, pricing, security.")
        if intent.question:
            reply += self._answer_question(text, emit)
        if intent.clip:
            reply += self._show_clip(text, emit)
        if intent.meeting:
            reply += self._book_meeting(emit)
        if contact_changed or (intent.meeting and self._contact.complete):
            reply += self._capture_lead(emit)
        if intent.thanks_only and not reply:
            reply.append("You're welcome! Anything else I can help with?")
        if not reply:
            reply.append(
                "I'm not sure I understood. You can ask about features, pricing, integrations or "
                "security, ask for a demo clip, or book a meeting."
            )
        self._say(emit, reply, response_id=response_id)

    # --- tools -----------------------------------------------------------------------------
    def _tool(self, emit: Emit, name: str, args: dict[str, Any]) -> tuple[str, ToolOutcomeLike]:
        call_id = f"local_{uuid.uuid4().hex[:12]}"
        emit(_stamped(protocol.dump(protocol.WidgetToolCall(call_id=call_id, name=name))))
        return call_id, self._run_tool(call_id, name, json.dumps(args))

    def _tool_result(
        self, emit: Emit, call_id: str, outcome: ToolOutcomeLike,
        sources: list[protocol.Source] | None = None,
    ) -> None:  # fmt: skip
        event = protocol.tool_result(call_id, outcome.name, ok=outcome.ok,
                                     error_code=outcome.error_code, result=outcome.result,
                                     sources=sources)  # fmt: skip
        emit(_stamped(event))

    def _answer_question(self, text: str, emit: Emit) -> list[str]:
        self._topics.append(text[:200])
        call_id, outcome = self._tool(emit, "search_knowledge", {"query": text, "top_k": 4})
        if not outcome.ok:
            self._tool_result(emit, call_id, outcome)
            return ["I can't reach our documentation right now. Please try again in a moment."]
        answer = extract_answer(text, hits_from_result(outcome.result), self._encoder)
        if not answer.sentences:
            self._tool_result(emit, call_id, outcome, sources=[])
            return [
                "I couldn't find that in our documentation, and I'd rather not guess. "
                "If you leave your name and email, someone from sales will answer it."
            ]
        sources = [protocol.Source(title=s.title, url=s.url, source=s.source)
                   for s in answer.sources]  # fmt: skip
        self._tool_result(emit, call_id, outcome, sources=sources)
        return answer.lines()

    def _show_clip(self, text: str, emit: Emit) -> list[str]:
        call_id, outcome = self._tool(emit, "get_demo_clip", {"topic": text})
        self._tool_result(emit, call_id, outcome)
        clip = outcome.result.get("clip") if outcome.ok else None
        title = (clip or outcome.result).get("title") if outcome.ok else None
        if not title:
            return ["I don't have a demo clip on that topic, but I can book you a live demo."]
        return [f"Here's a short clip: “{title}”."]

    def _book_meeting(self, emit: Emit) -> list[str]:
        args = {
            k: v for k, v in (("name", self._contact.name), ("email", self._contact.email)) if v
        }
        call_id, outcome = self._tool(emit, "create_meeting_link", args)
        self._tool_result(emit, call_id, outcome)
        if not outcome.ok:
            return ["I couldn't create a booking link just now; please try again shortly."]
        line = "Here's a link to book a meeting with our team."
        if not self._contact.complete:
            line += " If you tell me your name and email, I'll pass them on to the team as well."
        return [line]

    def _capture_lead(self, emit: Emit) -> list[str]:
        contact = self._contact
        if not contact.name:
            return ["Thanks! And what's your name?"]
        if not contact.email:
            return [f"Thanks, {contact.name}. What's the best email to reach you?"]
        key = (contact.name, contact.email)
        if self._lead_logged_for == key:
            return []
        interest = "; ".join(self._topics[-3:]) or "General enquiry from the text chat"
        args: dict[str, Any] = {"name": contact.name, "email": contact.email, "interest": interest}
        if contact.company:
            args["company"] = contact.company
        call_id, outcome = self._tool(emit, "log_lead", args)
        self._tool_result(emit, call_id, outcome)
        if not outcome.ok:
            if outcome.error_code == "lead_email_invalid":
                self._contact = Contact(name=contact.name, company=contact.company)
                return ["That email address doesn't look right. Could you type it again?"]
            return ["I couldn't save your details just now; please try again shortly."]
        self._lead_logged_for = key
        return [
            f"Thanks, {contact.name}! I've passed your details on; our team will reach you at "
            f"{contact.email}."
        ]

    # --- output ----------------------------------------------------------------------------
    def _say(self, emit: Emit, sentences: list[str], *, response_id: str | None = None) -> None:
        """Emit one assistant text message as GA response events (opening one if needed)."""
        item_id = f"item_{uuid.uuid4().hex[:16]}"
        if response_id is None:
            response_id = f"resp_{uuid.uuid4().hex[:16]}"
            emit(_event("response.created", response=_response("in_progress", response_id)))
        item = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress",
                "content": []}  # fmt: skip
        ids = {
            "response_id": response_id,
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
        }
        emit(
            _event("response.output_item.added", response_id=response_id, output_index=0, item=item)
        )
        for i, sentence in enumerate(sentences):
            emit(_event("response.output_text.delta", **ids, delta=(" " if i else "") + sentence))
        text = " ".join(sentences)
        emit(_event("response.output_text.done", **ids, text=text))
        done_item = {
            **item,
            "status": "completed",
            "content": [{"type": "output_text", "text": text}],
        }
        emit(_event("response.output_item.done", response_id=response_id, output_index=0,
                    item=done_item))  # fmt: skip
        emit(_event("response.done", response={**_response("completed", response_id),
                                               "output": [done_item]}))  # fmt: skip


def _event(kind: str, **fields: Any) -> dict[str, Any]:
    return _stamped({"type": kind, **fields})


def _stamped(event: dict[str, Any]) -> dict[str, Any]:
    """The event with an `event_id`, like every server event of the Realtime API."""
    return {**event, "event_id": f"event_{uuid.uuid4().hex[:16]}"}


def _response(status: str, response_id: str) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "realtime.response",
        "status": status,
        "output_modalities": ["text"],
    }


__all__ = ["Intent", "LocalEngine"]
