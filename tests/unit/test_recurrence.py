"""Fire times across daylight-saving changes, for cron expressions and RFC 5545 rules, in
Europe/Amsterdam and America/New_York: a local time that does not exist fires once at the
jump, a local time that occurs twice fires once, at its first occurrence. Walking back
(``due``, which catch-up uses) gives the same instants as walking forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rota.core.errors import ValidationError
from rota.core.recurrence import Kind, Recurrence, zone


def z(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def firings(kind: Kind, expr: str, tz: str, after: str, count: int) -> list[datetime]:
    rule = Recurrence.parse(kind, expr, zone(tz), z(after) - timedelta(days=30))
    found: list[datetime] = []
    at: datetime | None = z(after)
    for _ in range(count):
        assert at is not None
        at = rule.next_after(at)
        assert at is not None
        found.append(at)
    back = rule.due(z(after), found[-1], count + 5)
    assert back == found  # walking back agrees, with nothing doubled or lost
    return found


AMS_DAILY = ["2026-03-28T01:30Z", "2026-03-29T01:00Z", "2026-03-30T00:30Z"]  # 02:30, jump, 02:30
AMS_FALL = ["2026-10-24T00:30Z", "2026-10-25T00:30Z", "2026-10-26T01:30Z"]  # first 02:30 only


@pytest.mark.parametrize(
    ("kind", "expr"),
    [("cron", "30 2 * * *"), ("rrule", "FREQ=DAILY;BYHOUR=2;BYMINUTE=30;BYSECOND=0")],
)
def test_amsterdam_daily_at_half_past_two(kind: Kind, expr: str) -> None:
    spring = firings(kind, expr, "Europe/Amsterdam", "2026-03-27T12:00Z", 3)
    assert spring == [z(t) for t in AMS_DAILY]
    fall = firings(kind, expr, "Europe/Amsterdam", "2026-10-23T12:00Z", 3)
    assert fall == [z(t) for t in AMS_FALL]


@pytest.mark.parametrize(
    ("kind", "expr"),
    [("cron", "*/30 * * * *"), ("rrule", "FREQ=HOURLY;BYMINUTE=0,30;BYSECOND=0")],
)
def test_new_york_every_half_hour(kind: Kind, expr: str) -> None:
    # 02:00, 02:30 and 03:00 EDT are one instant on the spring night: fired once
    spring = firings(kind, expr, "America/New_York", "2026-03-08T05:45Z", 4)
    assert spring == [z(t) for t in ("2026-03-08T06:00Z", "2026-03-08T06:30Z",
                                     "2026-03-08T07:00Z", "2026-03-08T07:30Z")]  # fmt: skip
    # 01:00 and 01:30 come twice on the fall night: the EST repeat fires nothing
    fall = firings(kind, expr, "America/New_York", "2026-11-01T04:15Z", 5)
    assert fall == [z(t) for t in ("2026-11-01T04:30Z", "2026-11-01T05:00Z",
                                   "2026-11-01T05:30Z", "2026-11-01T07:00Z",
                                   "2026-11-01T07:30Z")]  # fmt: skip


def test_six_fields_take_a_leading_seconds_field() -> None:
    got = firings("cron", "40 * * * * *", "UTC", "2026-01-01T00:00:00Z", 2)
    assert got == [z("2026-01-01T00:00:40Z"), z("2026-01-01T00:01:40Z")]


def test_intervals_and_one_shot_times_ignore_the_wall_clock() -> None:
    start = z("2026-03-29T00:30Z")
    every = Recurrence.parse("interval", 3600, zone("Europe/Amsterdam"), start)
    assert every.due(start, start + timedelta(hours=3), 10) == [
        start + timedelta(hours=n) for n in (1, 2, 3)
    ]
    once = Recurrence.parse("at", "2026-03-29T02:30", zone("Europe/Amsterdam"), start)
    assert once.next_after(start) == z("2026-03-29T01:00Z")  # a local time in the gap
    assert once.next_after(z("2026-03-29T01:00Z")) is None


@pytest.mark.parametrize(
    ("kind", "expr"),
    [("cron", "* * *"), ("rrule", "FREQ=NEVER"), ("interval", 0.5), ("at", "tomorrow")],
)
def test_bad_rules_say_what_to_fix(kind: Kind, expr: str | float) -> None:
    with pytest.raises(ValidationError):
        Recurrence.parse(kind, expr, zone("UTC"), z("2026-01-01T00:00Z"))
