"""The time window every report takes: whole UTC days, at most a year."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Period = Literal["day", "week"]
DEFAULT_DAYS = 30
MAX_DAYS = 366
LAST_DAY = date(9999, 12, 31)


class ReportQuery(BaseModel):
    """Query string of every report: `since`/`until` (inclusive UTC days), `period`, `limit`."""

    model_config = ConfigDict(extra="ignore")

    since: date | None = None
    until: date | None = None
    period: Period = "day"
    limit: int = Field(default=20, ge=1, le=200)

    @model_validator(mode="after")
    def _bounded(self) -> ReportQuery:
        until = self.until or datetime.now(UTC).date()
        since = self.since or until - timedelta(days=DEFAULT_DAYS - 1)
        if since > until or (until - since).days >= MAX_DAYS:
            raise ValueError("the window is one to 366 days, since <= until")
        if until >= LAST_DAY:  # the day after must exist (the window's exclusive end)
            raise ValueError("until is too far in the future")
        self.since, self.until = since, until
        return self

    @property
    def first_day(self) -> date:
        assert self.since is not None
        return self.since

    @property
    def last_day(self) -> date:
        assert self.until is not None
        return self.until

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """Exclusive: the start of the day after `until`."""
        return datetime.combine(self.last_day, time.min, tzinfo=UTC) + timedelta(days=1)

    def days(self) -> list[date]:
        n = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=i) for i in range(n)]


def week_of(day: date) -> date:
    """The Monday starting `day`'s ISO week."""
    return day - timedelta(days=day.weekday())
