"""Strict checks against the installed `openai` SDK's own types: the independent reference.

The fake and the product were written from the same protocol notes and can share a mistake;
the SDK's generated types come from OpenAI's spec. Request bodies are checked against the SDK's
TypedDicts (`*Param`) with a pydantic TypeAdapter in strict mode and unknown keys forbidden;
server events against the SDK's pydantic models, where any field the model does not declare
(the SDK keeps them as `model_extra`) counts as an error too. Upgrading the SDK re-runs these
checks, so its changes show up as failing tests.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import Any

import typing_extensions
from pydantic import BaseModel, ConfigDict, TypeAdapter

# The SDK packages whose TypedDicts make up the Realtime request bodies.
_PARAM_PACKAGES = ("openai.types.realtime", "openai.types.responses", "openai.types.shared_params")


class SdkMismatch(AssertionError):
    """A body or event the installed SDK's types do not accept."""


@cache
def _forbid_unknown_keys() -> None:
    """Make the SDK's request TypedDicts refuse unknown keys (pydantic reads this attribute).

    The SDK never validates its TypedDicts with pydantic itself, so setting the config only
    affects the adapters built here.
    """
    for package_name in _PARAM_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__, package_name + "."):
            if not info.name.endswith(("_param", "_params")):
                continue
            module = importlib.import_module(info.name)
            for value in vars(module).values():
                if typing_extensions.is_typeddict(value) and value.__module__ == module.__name__:
                    value.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]


@cache
def _adapter(name: str) -> TypeAdapter[Any]:
    _forbid_unknown_keys()
    from openai.types import realtime, webhooks
    from openai.types.realtime import call_accept_params, client_secret_create_params

    types: dict[str, Any] = {
        "session": realtime.RealtimeSessionCreateRequestParam,
        "client_secret_request": client_secret_create_params.ClientSecretCreateParams,
        "accept": call_accept_params.CallAcceptParams,
        "client_event": realtime.RealtimeClientEventParam,
        "server_event": realtime.RealtimeServerEvent,
        "webhook": webhooks.UnwrapWebhookEvent,
    }
    return TypeAdapter(types[name])


def _validate(kind: str, value: Any) -> Any:
    try:
        parsed = _adapter(kind).validate_python(value, strict=True)
    except Exception as exc:  # pydantic.ValidationError, with the SDK's field paths
        raise SdkMismatch(f"not a valid SDK {kind}: {exc}") from None
    extras = list(undeclared_fields(parsed))
    if extras:
        raise SdkMismatch(f"{kind} {value.get('type')!r} has fields the SDK lacks: {extras}")
    return parsed


def undeclared_fields(value: Any, path: str = "") -> list[str]:
    """Dotted paths of fields a parsed SDK model kept as extras (unknown to the SDK)."""
    found: list[str] = []
    if isinstance(value, BaseModel):
        found += [f"{path}{key}" for key in (value.model_extra or {})]
        for key in type(value).model_fields:
            found += undeclared_fields(getattr(value, key), f"{path}{key}.")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found += undeclared_fields(item, f"{path}{i}.")
    elif isinstance(value, dict):
        for key, item in value.items():
            found += undeclared_fields(item, f"{path}{key}.")
    return found


def check_session(session: dict[str, Any]) -> None:
    """A GA session object (client secret `session`, `session.update`, /calls, accept)."""
    _validate("session", session)


def check_client_secret_request(body: dict[str, Any]) -> None:
    _validate("client_secret_request", body)


def check_accept(body: dict[str, Any]) -> None:
    """The body of POST /realtime/calls/{id}/accept (a realtime session)."""
    _validate("accept", body)


def check_client_event(event: dict[str, Any]) -> None:
    _validate("client_event", event)


def check_server_event(event: dict[str, Any]) -> Any:
    """One event as a server sends it; returns the SDK's parsed model."""
    return _validate("server_event", event)


def check_webhook(payload: dict[str, Any]) -> Any:
    return _validate("webhook", payload)
