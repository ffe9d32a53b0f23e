"""When a schedule fires: a cron expression, an RFC 5545 rule, a fixed interval or one time.

Cron expressions and rules are read in the schedule's IANA time zone, on its wall clock, by
croniter and dateutil's rrule; each wall-clock time they name then becomes one instant, with
one rule for daylight-saving changes, the same for both:

- a local time that does not exist (the clock jumps over it) fires once, at the first
  valid instant after it: the moment of the jump (02:30 on a spring-forward night in
  Amsterdam fires at 03:00 CEST; every time in the skipped hour fires there, once);
- a local time that occurs twice (the clock falls back over it) fires once, at its first
  occurrence; the repeated hour fires nothing more.

Intervals count seconds in UTC from their anchor, and a one-shot time is an instant: the
clock's changes do not touch them. Every instant is UTC, to the second.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter
from dateutil.rrule import rrule, rrulestr

from rota.core.errors import ValidationError
from rota.core.ids import quote

Kind = Literal["cron", "rrule", "interval", "at"]

#: the smallest and largest fixed interval, seconds
MIN_INTERVAL, MAX_INTERVAL = 1, 366 * 86_400
#: wall-clock candidates one look at the next time may step over (a per-second rule inside
#: a repeated hour steps over 3,600); past it the rule is taken to fire no more
MAX_STEPS = 20_000


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory, e.g. "America"
        raise ValidationError(
            f"timezone {quote(name)} is unknown: give an IANA name such as 'Europe/Amsterdam'"
        ) from None


@dataclass(frozen=True, slots=True)
class Recurrence:
    kind: Kind
    #: the cron expression, the rule's text, the interval in seconds, or the ISO instant
    expr: str | float
    tz: ZoneInfo
    #: the anchor: an interval counts from it, a rule without DTSTART starts at it
    start: datetime

    @classmethod
    def parse(cls, kind: Kind, expr: str | float, tz: ZoneInfo, start: datetime) -> Recurrence:
        made = cls(kind, expr, tz, start.replace(microsecond=0))
        made._check()
        return made

    def _check(self) -> None:
        if self.kind == "cron":
            if not isinstance(self.expr, str) or not _valid_cron(self.expr):
                raise ValidationError(
                    f"cron {quote(self.expr)} is invalid: five fields (minute hour day month "
                    "weekday), or six with a leading seconds field"
                )
        elif self.kind == "rrule":
            self._rule()
        elif self.kind == "interval":
            if not isinstance(self.expr, int | float) or not (
                MIN_INTERVAL <= self.expr <= MAX_INTERVAL
            ):
                raise ValidationError(f"interval must be {MIN_INTERVAL}..{MAX_INTERVAL} seconds")
        else:
            self._at()

    def _rule(self) -> rrule:
        if not isinstance(self.expr, str):
            raise ValidationError("rrule must be the text of an RFC 5545 rule")
        local_start = self.start.astimezone(self.tz).replace(tzinfo=None)
        try:
            rule = rrulestr(self.expr, dtstart=local_start, ignoretz=True, cache=False)
        except Exception as exc:
            raise ValidationError(
                f"rrule {quote(self.expr)} is invalid ({quote(str(exc), 80)}): give "
                "e.g. 'FREQ=MINUTELY;BYSECOND=40'"
            ) from None
        if not isinstance(rule, rrule):
            raise ValidationError("rrule: give one RRULE (with an optional DTSTART)")
        return rule

    def _at(self) -> datetime:
        try:
            at = datetime.fromisoformat(str(self.expr))
        except ValueError:
            raise ValidationError(
                f"at {quote(self.expr)} is invalid: give an ISO 8601 time"
            ) from None
        try:
            if at.tzinfo is None:  # a local time of the schedule's zone
                at = _instant(at, self.tz)
            return at.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValidationError(f"at {quote(self.expr)} is outside the calendar") from None

    def next_after(self, after: datetime) -> datetime | None:
        """The first firing strictly after ``after`` (aware); None when there is none."""
        after = after.astimezone(UTC)
        if self.kind == "at":
            at = self._at()
            return at if at > after else None
        if self.kind == "interval":
            if after < self.start:
                return self.start
            step = timedelta(seconds=float(self.expr))
            return self.start + (int((after - self.start) / step) + 1) * step
        for wall in self._walls(after, forward=True):
            instant = _instant(wall, self.tz)
            if instant > after:
                return instant
        return None

    def due(self, after: datetime, until: datetime, limit: int) -> list[datetime]:
        """The latest ``limit`` firings in ``(after, until]``, oldest first. Walks back
        from ``until``: the cost is ``limit``, not the length of the gap."""
        after, until = after.astimezone(UTC), until.astimezone(UTC)
        found: list[datetime] = []
        if self.kind == "at":
            at = self._at()
            return [at] if after < at <= until else []
        if self.kind == "interval":
            step = timedelta(seconds=float(self.expr))
            if until < self.start:
                return []
            last = self.start + int((until - self.start) / step) * step
            while last > after and last >= self.start and len(found) < limit:
                found.append(last)
                last -= step
        else:
            for wall in self._walls(until + timedelta(seconds=1), forward=False):
                instant = _instant(wall, self.tz)
                if instant > until or (found and instant >= found[-1]):
                    continue  # the second pass of a repeated hour, or a gap's repeat
                if instant <= after or len(found) == limit:
                    break
                found.append(instant)
        return found[::-1]

    def _walls(self, start: datetime, *, forward: bool) -> Iterator[datetime]:
        """Wall-clock times the cron expression or rule names, after (or before) the wall
        time of the instant ``start``, at most MAX_STEPS of them."""
        wall = start.astimezone(self.tz).replace(tzinfo=None)
        if self.kind == "cron":
            cron = croniter(str(self.expr), wall, second_at_beginning=True, is_prev=not forward)
            step = cron.get_next if forward else cron.get_prev
            for _ in range(MAX_STEPS):
                try:
                    yield step(datetime)
                except CroniterBadDateError:  # no such day within years (e.g. 31 February)
                    return
            return
        rule = self._rule()
        for _ in range(MAX_STEPS):
            found = rule.after(wall, inc=False) if forward else rule.before(wall, inc=False)
            if found is None:
                return
            yield found
            wall = found


def _valid_cron(expr: str) -> bool:
    try:
        return bool(croniter.is_valid(expr, second_at_beginning=True))
    except Exception:
        return False


def _offset(timestamp: int, tz: ZoneInfo) -> timedelta | None:
    return datetime.fromtimestamp(timestamp, tz).utcoffset()


def _instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """The instant a naive wall-clock time of ``tz`` fires at (the module's DST rule)."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first  # exists: its first occurrence (fold 0) when it occurs twice
    # in a gap: fold 0 reads it with the offset before the jump, fold 1 with the one after;
    # the jump lies between the two readings
    lo = int(wall.replace(tzinfo=tz, fold=1).astimezone(UTC).timestamp())
    hi = int(first.timestamp())
    lo, hi = min(lo, hi), max(lo, hi)
    after = _offset(hi, tz)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset(mid, tz) == after:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)
