"""The template's schedules, fired locally.

moto's EventBridge Scheduler stores schedules but never fires them, so the local stack runs a
timer thread that calls each scheduled function's handler in-process when its expression comes
due, with the event that AWS would deliver: the schedule's ``Input`` (with Scheduler's context
attributes such as ``<aws.scheduler.scheduled-time>`` filled in) or, with no ``Input``, the
default notification of EventBridge Scheduler (``ScheduleV2``) or of an EventBridge rule
(``Schedule``).

Expressions: ``rate(N minute|minutes|hour|hours|day|days)`` and the six-field
``cron(min hour day-of-month month day-of-week year)`` with ``*``, ``?``, lists, ranges, steps
and names (``MON``, ``JAN``); ``L``, ``W`` and ``#`` are refused. Times are UTC, or the
schedule's ``ScheduleExpressionTimezone``. A failed run is logged and the schedule carries on
at its next time (Scheduler would retry; the next tick does the same work here).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

LOG = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {m: i for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV",
                                       "DEC"], start=1)}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}  # AWS: 1 = Sunday


class ScheduleExpressionError(ValueError):
    """An expression this runner cannot evaluate."""


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int] | None:
    """One cron field → the set of values it allows, or None for 'any' (``*`` or ``?``)."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for part in text.upper().split(","):
        if "#" in part or re.fullmatch(r"\d*L|\d+W|LW", part):
            raise ScheduleExpressionError(f"cron field {text!r}: L, W and # are not supported locally")
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(base, names)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high) or step < 1:
            raise ScheduleExpressionError(f"cron field {text!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text in names:
        return names[text]
    try:
        return int(text)
    except ValueError:
        raise ScheduleExpressionError(f"not a cron value: {text!r}") from None


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int] | None
    hours: frozenset[int] | None
    days: frozenset[int] | None
    months: frozenset[int] | None
    weekdays: frozenset[int] | None  # 1 = Sunday … 7 = Saturday
    years: frozenset[int] | None

    @classmethod
    def parse(cls, body: str) -> Cron:
        parts = body.split()
        if len(parts) != 6:
            raise ScheduleExpressionError(f"cron({body}) needs 6 fields: minutes hours day month weekday year")
        return cls(
            minutes=_field(parts[0], 0, 59),
            hours=_field(parts[1], 0, 23),
            days=_field(parts[2], 1, 31),
            months=_field(parts[3], 1, 12, _MONTHS),
            weekdays=_field(parts[4], 1, 7, _DAYS),
            years=_field(parts[5], 1970, 2199),
        )

    def _date_matches(self, t: datetime) -> bool:
        weekday = (t.isoweekday() % 7) + 1  # isoweekday: Monday 1 … Sunday 7 → AWS: Sunday 1
        return all(
            allowed is None or value in allowed
            for allowed, value in ((self.years, t.year), (self.months, t.month), (self.days, t.day),
                                   (self.weekdays, weekday))
        )

    def next_after(self, after: datetime) -> datetime:
        """The first whole minute strictly after ``after`` that the expression allows."""
        t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = t + timedelta(days=366 * 5)
        while t < limit:
            if not self._date_matches(t):
                t = (t + timedelta(days=1)).replace(hour=0, minute=0)
            elif self.hours is not None and t.hour not in self.hours:
                t = (t + timedelta(hours=1)).replace(minute=0)
            elif self.minutes is not None and t.minute not in self.minutes:
                t += timedelta(minutes=1)
            else:
                return t
        raise ScheduleExpressionError("cron expression never fires in the next five years")


@dataclass(frozen=True)
class Expression:
    """A parsed ``rate(...)`` or ``cron(...)``."""

    text: str
    interval: timedelta | None = None
    cron: Cron | None = None

    @classmethod
    def parse(cls, text: str) -> Expression:
        text = text.strip()
        if match := _RATE.match(text):
            amount, unit = int(match[1]), match[2].rstrip("s")
            if amount < 1:
                raise ScheduleExpressionError(f"{text}: the rate must be at least 1")
            return cls(text, interval=timedelta(seconds=amount * _UNITS[unit]))
        if match := _CRON.match(text):
            return cls(text, cron=Cron.parse(match[1]))
        raise ScheduleExpressionError(f"unsupported schedule expression {text!r} (rate(...) or cron(...))")

    def next_after(self, after: datetime, zone: tzinfo = UTC) -> datetime:
        if self.interval is not None:
            return after + self.interval
        assert self.cron is not None
        return self.cron.next_after(after.astimezone(zone)).astimezone(UTC)


@dataclass
class LocalSchedule:
    """One schedule of the template, bound to the function it invokes."""

    name: str
    expression: Expression
    handler: str | Callable[[Any, Any], Any]  # "functions.cleanup.app.handler" or a callable
    function_name: str
    input: str | None = None
    kind: str = "ScheduleV2"  # SAM event type: ScheduleV2 (EventBridge Scheduler) or Schedule (rule)
    timezone: str | None = None
    enabled: bool = True
    account_id: str = "123456789012"
    region: str = "us-east-1"
    next_run: datetime | None = field(default=None, repr=False)

    @property
    def arn(self) -> str:
        if self.kind == "Schedule":
            return f"arn:aws:events:{self.region}:{self.account_id}:rule/{self.name}"
        return f"arn:aws:scheduler:{self.region}:{self.account_id}:schedule/default/{self.name}"

    @property
    def zone(self) -> tzinfo:
        return ZoneInfo(self.timezone) if self.timezone else UTC

    def event(self, scheduled: datetime, attempt: int = 1) -> Any:
        """What the function receives, as AWS would deliver it."""
        at = scheduled.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        execution_id = str(uuid.uuid4())
        if self.input is not None:
            text = self.input
            if self.kind == "ScheduleV2":
                for key, value in (("scheduled-time", at), ("execution-id", execution_id),
                                   ("schedule-arn", self.arn), ("attempt-number", str(attempt))):
                    text = text.replace(f"<aws.scheduler.{key}>", value)
            return json.loads(text)
        if self.kind == "Schedule":
            return {"version": "0", "id": execution_id, "detail-type": "Scheduled Event", "source": "aws.events",
                    "account": self.account_id, "time": at, "region": self.region, "resources": [self.arn],
                    "detail": {}}
        return {"version": "0", "id": execution_id, "detail-type": "Scheduled Event", "source": "aws.scheduler",
                "account": self.account_id, "time": at, "region": self.region, "resources": [self.arn],
                "detail": "{}"}


Invoke = Callable[[LocalSchedule, Any], Any]


class ScheduleRunner:
    """One daemon thread firing every enabled schedule when it comes due.

    ``invoke(schedule, event)`` runs the function; the stack passes one that calls the handler
    in-process with a Lambda context. ``clock`` and ``max_wait`` (the longest sleep between two
    looks at the clock, in real seconds) are for tests."""

    def __init__(self, schedules: list[LocalSchedule], invoke: Invoke,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), max_wait: float = 60.0) -> None:
        self.schedules = [s for s in schedules if s.enabled]
        self.invoke = invoke
        self.clock = clock
        self.max_wait = max_wait
        self.runs: list[tuple[str, datetime, bool]] = []  # (name, scheduled time, ok): what ran
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None or not self.schedules:
            return
        now = self.clock()
        for schedule in self.schedules:
            schedule.next_run = schedule.expression.next_after(now, schedule.zone)
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="local-schedules", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                LOG.warning("a scheduled function is still running after %.0fs; leaving it", timeout)
            self._thread = None

    def fire(self, schedule: LocalSchedule, scheduled: datetime | None = None) -> bool:
        """Run one schedule now (also what the timer does); True when the function succeeded."""
        when = scheduled or self.clock()
        try:
            self.invoke(schedule, schedule.event(when))
            ok = True
        except Exception:
            LOG.exception("scheduled %s (%s) failed; it runs again at its next time", schedule.name,
                          schedule.function_name)
            ok = False
        self.runs.append((schedule.name, when, ok))
        return ok

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = self.clock()
            due = [s for s in self.schedules if s.next_run is not None and s.next_run <= now]
            for schedule in due:
                if self._stop.is_set():
                    return
                assert schedule.next_run is not None
                scheduled, schedule.next_run = schedule.next_run, None
                self.fire(schedule, scheduled)
                # like Scheduler, no catch-up burst after a long run: the next time after now
                schedule.next_run = schedule.expression.next_after(max(scheduled, self.clock()), schedule.zone)
            upcoming = min((s.next_run for s in self.schedules if s.next_run is not None), default=None)
            wait = self.max_wait if upcoming is None else (upcoming - self.clock()).total_seconds()
            self._stop.wait(min(max(wait, 0.01), self.max_wait))
