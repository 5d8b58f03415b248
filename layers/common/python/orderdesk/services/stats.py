"""Daily statistics (GET /stats/daily): the days of a range as the order stream counted them
(`projections.daily`), one stored item a day, so the read grows with the days asked for and never
with the orders; a day nothing happened on is all zeros."""

from __future__ import annotations

from datetime import date, timedelta

from ..domain.errors import ValidationFailed
from ..domain.model import utcnow
from ..domain.stats import DayCounts
from .ports import stores

DEFAULT_DAYS = 30
MAX_DAYS = 366


def _day(value: str | None, field: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed("bad date", {field: "must be a day, YYYY-MM-DD"}) from exc


def daily(first: str | None = None, last: str | None = None) -> list[DayCounts]:
    """Every day from `first` to `last` (inclusive, UTC), oldest first. Defaults: the last 30
    days up to today."""
    end = _day(last, "to") or utcnow().date()
    start = _day(first, "from") or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ValidationFailed("bad range", {"from": "must not be after `to`"})
    if (end - start).days + 1 > MAX_DAYS:
        raise ValidationFailed("bad range", {"from": f"at most {MAX_DAYS} days from `to`"})
    found = {d.date: d for d in stores().daily_stats.days(start.isoformat(), end.isoformat())}
    days = ((start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1))
    return [found.get(day) or DayCounts(date=day) for day in days]


def shown(day: DayCounts) -> dict[str, object]:
    """A day as GET /stats/daily shows it: money as counts with their sums per currency."""
    return {"date": day.date, "placed": day.placed, "accepted": day.accepted, "cancelled": day.cancelled,
            "fraud": day.fraud, "payments": {"count": day.payments, "amounts": day.payment_amounts},
            "refunds": {"count": day.refunds, "amounts": day.refund_amounts},
            "failed_actions": day.failed_actions, "fraud_checks": day.fraud_checks}
