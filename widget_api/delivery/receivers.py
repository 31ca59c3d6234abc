"""Who receives which events: the companies' `[[webhooks]]` entries with their secrets.

Secrets are named by environment variable in the company file and resolved once, when a
sender starts; a missing or malformed one is logged then and its deliveries become dead
letters (visible in the admin page) instead of being sent unsigned.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from widget_api.companies.models import CompanyConfig
from widget_api.delivery.signing import InvalidSecret, check_secret

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Receiver:
    company_id: str
    url: str
    events: frozenset[str]
    secret: str | None  # None: missing or malformed (logged at start)


class Receivers:
    """The receivers of every company, looked up by (company, event type) and by URL."""

    def __init__(self, receivers: Iterable[Receiver]) -> None:
        self._by_company: dict[str, list[Receiver]] = {}
        for receiver in receivers:
            self._by_company.setdefault(receiver.company_id, []).append(receiver)

    @classmethod
    def from_companies(
        cls, companies: Iterable[CompanyConfig], env: Mapping[str, str]
    ) -> Receivers:
        out = []
        for company in companies:
            for hook in company.webhooks:
                secret = env.get(hook.secret_env)
                try:
                    check_secret(secret or "")
                except InvalidSecret as exc:
                    log.error(
                        "webhook of %s: $%s is unusable (%s); its deliveries will fail",
                        company.id, hook.secret_env, exc if secret else "not set",
                    )  # fmt: skip
                    secret = None
                out.append(Receiver(company.id, str(hook.url), frozenset(hook.events), secret))
        return cls(out)

    def subscribed(self, company_id: str, event_type: str) -> list[str]:
        """URLs of the company's receivers that take `event_type`."""
        return [r.url for r in self._by_company.get(company_id, []) if event_type in r.events]

    def get(self, company_id: str, url: str) -> Receiver | None:
        return next((r for r in self._by_company.get(company_id, []) if r.url == url), None)
