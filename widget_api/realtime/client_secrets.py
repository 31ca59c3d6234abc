"""Minting ephemeral Realtime client secrets with the official `openai` SDK.

Upstream failures map onto stable codes within a bounded time: slow → `upstream_timeout` (504),
anything else → `upstream_error` (502). The SDK retries nothing (`max_retries=0`): the browser is
waiting, and a retry would double the worst-case wait. The API key is never logged; OpenAI's
error bodies are not passed on to the browser either (only the upstream status code).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from widget_api.errors import ApiError
from widget_api.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClientSecret:
    value: str
    expires_at: int
    session: dict[str, Any]


def webrtc_calls_url(base_url: str) -> str:
    """Where the browser POSTs its SDP offer, derived from OPENAI_BASE_URL (§2.1)."""
    return base_url.rstrip("/") + "/realtime/calls"


class ClientSecretMinter:
    """One SDK client per process (it pools connections); thread-safe like the SDK client."""

    def __init__(self, settings: Settings) -> None:
        if settings.openai_api_key is None:
            raise ValueError("no OpenAI API key configured")
        import openai  # seconds to import; only servers with a key need it

        self.ttl_seconds = settings.client_secret_ttl_seconds
        self._client = openai.OpenAI(
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            timeout=settings.openai_timeout_seconds,
            max_retries=0,
        )

    def mint(self, session: dict[str, Any], ttl_seconds: int | None = None) -> ClientSecret:
        """POST /realtime/client_secrets; raises ApiError upstream_timeout / upstream_error.

        `ttl_seconds` shortens the secret's lifetime to the conversation's time limit (OpenAI
        takes 10 to 7200 s); the configured lifetime is the ceiling.
        """
        import openai

        ttl = self.ttl_seconds if ttl_seconds is None else min(self.ttl_seconds, ttl_seconds)

        try:
            response = self._client.realtime.client_secrets.create(
                expires_after={"anchor": "created_at", "seconds": max(10, ttl)},
                session=session,  # type: ignore[arg-type]
            )
            value, expires_at = response.value, int(response.expires_at)
        except openai.APITimeoutError:
            log.warning("client secret: OpenAI did not answer in time")
            raise ApiError("upstream_timeout") from None
        except openai.APIStatusError as exc:
            log.warning("client secret: OpenAI answered HTTP %s", exc.status_code)
            raise ApiError(
                "upstream_error", details=[{"upstream_status": exc.status_code}]
            ) from None
        except (openai.OpenAIError, ValueError, TypeError, AttributeError) as exc:
            log.warning("client secret: OpenAI request failed (%s)", type(exc).__name__)
            raise ApiError("upstream_error") from None
        if not isinstance(value, str) or not value:
            log.warning("client secret: OpenAI answer has no secret value")
            raise ApiError("upstream_error")
        effective = response.session.model_dump() if response.session is not None else {}
        return ClientSecret(value=value, expires_at=expires_at, session=effective)

    def close(self) -> None:
        self._client.close()
