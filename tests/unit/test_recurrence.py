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


@pytest.mark.parametrize(
    ("kind", "expr"),
    [("cron", "45 2 * * *"), ("rrule", "FREQ=DAILY;BYHOUR=2;BYMINUTE=45;BYSECOND=0")],
)
def test_catch_up_that_ends_inside_the_repeated_hour_keeps_its_first_pass(
    kind: Kind, expr: str
) -> None:
    # down from 02:40 CEST to 02:10 CET on the fall night: 02:45 CEST (00:45Z) was missed
    rule = Recurrence.parse(kind, expr, zone("Europe/Amsterdam"), z("2026-10-01T00:00Z"))
    assert rule.due(z("2026-10-25T00:40Z"), z("2026-10-25T01:10Z"), 10) == [z("2026-10-25T00:45Z")]
    # and one that ends after the repeat is over sees it once, not twice
    assert rule.due(z("2026-10-25T00:40Z"), z("2026-10-25T02:00Z"), 10) == [z("2026-10-25T00:45Z")]


OLD_RULES = [
    "FREQ=MINUTELY;INTERVAL=7",
    "FREQ=DAILY",  # its hour, minute and second come from the start
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;BYHOUR=9;BYMINUTE=0;BYSECOND=0",
    "FREQ=MONTHLY;BYDAY=FR;BYSETPOS=-1;BYHOUR=17;BYMINUTE=30;BYSECOND=0",
]


@pytest.mark.parametrize("expr", OLD_RULES)
def test_a_stored_rule_restarts_at_its_next_run_and_names_the_same_times(expr: str) -> None:
    tz, start = zone("Europe/Amsterdam"), z("2026-01-05T08:17:23Z")
    whole = Recurrence.parse("rrule", expr, tz, start)
    anchor = whole.next_after(z("2026-10-20T00:00Z"))  # across the fall-back night
    assert anchor is not None
    stored = Recurrence.load("rrule", expr, tz, start, anchor)
    # the restarted rule starts at its anchor: its cost no longer grows with its age
    assert next(iter(stored._rule())) == anchor.astimezone(tz).replace(tzinfo=None)
    until = anchor + timedelta(days=70)
    assert stored.due(anchor - timedelta(seconds=1), until, 100) == whole.due(
        anchor - timedelta(seconds=1), until, 100
    )
    for at in (anchor, anchor + timedelta(days=5, hours=3), until):
        assert stored.next_after(at) == whole.next_after(at)


def test_a_rule_with_count_is_not_restarted() -> None:
    tz, start = zone("UTC"), z("2026-01-01T00:00Z")
    rule = Recurrence.load("rrule", "FREQ=DAILY;COUNT=3", tz, start, z("2026-01-02T00:00Z"))
    assert rule.next_after(z("2026-01-02T00:00Z")) == z("2026-01-03T00:00Z")
    assert rule.next_after(z("2026-01-03T00:00Z")) is None  # the count still holds


def test_an_explicit_dtstart_far_in_the_past_is_refused_and_a_near_one_is_not() -> None:
    tz, start = zone("UTC"), z("2026-12-06T00:00Z")
    with pytest.raises(ValidationError, match="DTSTART"):
        Recurrence.parse("rrule", "DTSTART:20000101T000000\nRRULE:FREQ=SECONDLY", tz, start)
    biweekly = "DTSTART:20200106T090000\nRRULE:FREQ=WEEKLY;INTERVAL=2"  # 360 before the start
    rule = Recurrence.parse("rrule", biweekly, tz, start)
    assert rule.next_after(start) == z("2026-12-14T09:00Z")  # a Monday of its fortnights
