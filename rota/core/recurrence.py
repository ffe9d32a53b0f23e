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

A rule's cost: dateutil counts a rule's occurrences from its DTSTART, so a stored schedule
is loaded with its next run as an ``anchor`` (a known occurrence) and its rule restarts
there; a rule with COUNT cannot restart (the count would), and an explicit DTSTART may lie
at most :data:`MAX_BACKLOG` occurrences before the schedule's start.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import dropwhile, islice
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rota.core.errors import ValidationError
from rota.core.ids import quote

# croniter and dateutil load on first use (about 20 ms of a process's start): a worker
# that never reads a schedule's rule does not pay for them.
if TYPE_CHECKING:
    from dateutil.rrule import rrule

Kind = Literal["cron", "rrule", "interval", "at"]

#: the smallest and largest fixed interval, seconds
MIN_INTERVAL, MAX_INTERVAL = 1, 366 * 86_400
#: wall-clock candidates one look at the next time may step over (a per-second rule inside
#: a repeated hour steps over 3,600); past it the rule is taken to fire no more
MAX_STEPS = 20_000
#: occurrences an explicit DTSTART may lie before the schedule's start
MAX_BACKLOG = 10_000
#: the largest step back a zone's clock takes (a daylight-saving end, a zone's new offset)
MAX_FALL_BACK = timedelta(hours=3)


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
    #: an interval counts from it, a rule without DTSTART starts at it
    start: datetime
    #: a known firing (a stored schedule's next run), where a rule may restart
    anchor: datetime | None = None

    @classmethod
    def parse(cls, kind: Kind, expr: str | float, tz: ZoneInfo, start: datetime) -> Recurrence:
        """A new definition, checked whole."""
        made = cls(kind, expr, tz, start.replace(microsecond=0))
        made._check()
        return made

    @classmethod
    def load(
        cls, kind: Kind, expr: str | float, tz: ZoneInfo, start: datetime, anchor: datetime | None
    ) -> Recurrence:
        """A stored definition (checked when it was stored), restarting at ``anchor``."""
        return cls(kind, expr, tz, start.replace(microsecond=0), anchor)

    def _check(self) -> None:
        if self.kind == "cron":
            if not isinstance(self.expr, str) or not _valid_cron(self.expr):
                raise ValidationError(
                    f"cron {quote(self.expr)} is invalid: five fields (minute hour day month "
                    "weekday), or six with a leading seconds field"
                )
        elif self.kind == "rrule":
            self._check_backlog(self._rule())
        elif self.kind == "interval":
            if not isinstance(self.expr, int | float) or not (
                MIN_INTERVAL <= self.expr <= MAX_INTERVAL
            ):
                raise ValidationError(f"interval must be {MIN_INTERVAL}..{MAX_INTERVAL} seconds")
        else:
            self._at()

    def _rule(self) -> rrule:
        from dateutil.rrule import rrule, rrulestr

        if not isinstance(self.expr, str):
            raise ValidationError("rrule must be the text of an RFC 5545 rule")
        local_start = _local(self.start, self.tz)
        try:
            rule = rrulestr(self.expr, dtstart=local_start, ignoretz=True, cache=False)
        except Exception as exc:
            raise ValidationError(
                f"rrule {quote(self.expr)} is invalid ({quote(str(exc), 80)}): give "
                "e.g. 'FREQ=MINUTELY;BYSECOND=40'"
            ) from None
        if not isinstance(rule, rrule):
            raise ValidationError("rrule: give one RRULE (with an optional DTSTART)")
        anchor = self.anchor
        if anchor is None or "COUNT=" in self.expr.upper() or _is_jump(anchor, self.tz):
            return rule  # a jump's wall time need not be an occurrence's (it may be a gap's)
        wall = _local(anchor, self.tz)
        return rule.replace(dtstart=wall) if wall > local_start else rule

    def _check_backlog(self, rule: rrule) -> None:
        local_start = _local(self.start, self.tz)
        for seen, wall in enumerate(rule):
            if wall >= local_start:
                return
            if seen == MAX_BACKLOG:
                raise ValidationError(
                    f"rrule: DTSTART lies more than {MAX_BACKLOG} occurrences in the past; "
                    "give a later DTSTART"
                )

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
        for wall in self._walls_after(_local(after, self.tz)):
            instant = _instant(wall, self.tz)
            if instant > after:
                return instant
        return None

    def due(self, after: datetime, until: datetime, limit: int) -> list[datetime]:
        """The latest ``limit`` firings in ``(after, until]``, oldest first. A cron
        expression walks back from ``until`` (the cost is ``limit``, not the length of the
        gap); a rule walks forward from its anchor, keeping the latest ``limit``."""
        after, until = after.astimezone(UTC), until.astimezone(UTC)
        if self.kind == "at":
            at = self._at()
            return [at] if after < at <= until else []
        if self.kind == "interval":
            return self._due_interval(after, until, limit)
        found: deque[datetime] = deque(maxlen=limit)
        if self.kind == "rrule":
            for wall in self._rule():
                instant = _instant(wall, self.tz)
                if instant > until:
                    break
                if instant > after and (not found or instant > found[-1]):  # a gap's repeat
                    found.append(instant)
            return list(found)
        # wall times map to instants in order (a repeated hour's to its first pass), so the
        # walk back starts at the latest wall time the window shows
        for wall in self._walls_before(_latest_wall(after, until, self.tz)):
            instant = _instant(wall, self.tz)
            if instant > until or (found and instant >= found[0]):
                continue  # the clock's later pass over a repeated hour, or a gap's repeat
            if instant <= after or len(found) == limit:
                break
            found.appendleft(instant)
        return list(found)

    def _due_interval(self, after: datetime, until: datetime, limit: int) -> list[datetime]:
        step = timedelta(seconds=float(self.expr))
        if until < self.start:
            return []
        found: list[datetime] = []
        last = self.start + int((until - self.start) / step) * step
        while last > after and last >= self.start and len(found) < limit:
            found.append(last)
            last -= step
        return found[::-1]

    def _walls_after(self, wall: datetime) -> Iterator[datetime]:
        """Wall-clock times the cron expression or rule names after ``wall``, at most
        MAX_STEPS of them."""
        if self.kind == "rrule":
            yield from islice(dropwhile(lambda named: named <= wall, self._rule()), MAX_STEPS)
            return
        from croniter import CroniterBadDateError, croniter

        cron = croniter(str(self.expr), wall, second_at_beginning=True)
        for _ in range(MAX_STEPS):
            try:
                yield cron.get_next(datetime)
            except CroniterBadDateError:  # no such day within years (e.g. 31 February)
                return

    def _walls_before(self, wall: datetime) -> Iterator[datetime]:
        """Wall-clock times the cron expression names at or before ``wall``, latest first."""
        from croniter import CroniterBadDateError, croniter

        cron = croniter(
            str(self.expr), wall + timedelta(seconds=1), second_at_beginning=True, is_prev=True
        )
        for _ in range(MAX_STEPS):
            try:
                yield cron.get_prev(datetime)
            except CroniterBadDateError:
                return


def _valid_cron(expr: str) -> bool:
    from croniter import croniter

    try:
        return bool(croniter.is_valid(expr, second_at_beginning=True))
    except Exception:
        return False


def _offset(timestamp: int, tz: ZoneInfo) -> timedelta | None:
    return datetime.fromtimestamp(timestamp, tz).utcoffset()


def _local(instant: datetime, tz: ZoneInfo) -> datetime:
    """The naive wall-clock time of ``instant`` in ``tz``."""
    return instant.astimezone(tz).replace(tzinfo=None)


def _jump(lo: int, hi: int, tz: ZoneInfo) -> int:
    """The first second of ``hi``'s offset, for one change of offset in ``(lo, hi]``."""
    after = _offset(hi, tz)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset(mid, tz) == after:
            hi = mid
        else:
            lo = mid
    return hi


def _is_jump(instant: datetime, tz: ZoneInfo) -> bool:
    second = int(instant.timestamp())
    return _offset(second - 1, tz) != _offset(second, tz)


def _latest_wall(after: datetime, until: datetime, tz: ZoneInfo) -> datetime:
    """The latest wall-clock time of an instant in ``(after, until]``: ``until``'s, unless
    the clock fell back shortly before it, when the last second before the fall is later."""
    wall = _local(until, tz)
    lo, hi = int(max(after, until - MAX_FALL_BACK).timestamp()), int(until.timestamp())
    before, now = _offset(lo, tz), _offset(hi, tz)
    if before is not None and now is not None and before > now:
        wall = max(wall, _local(datetime.fromtimestamp(_jump(lo, hi, tz) - 1, UTC), tz))
    return wall


def _instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """The instant a naive wall-clock time of ``tz`` fires at (the module's DST rule)."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if _local(first, tz) == wall:
        return first  # exists: its first occurrence (fold 0) when it occurs twice
    # in a gap: fold 0 reads it with the offset before the jump, fold 1 with the one after;
    # the jump lies between the two readings
    lo = int(wall.replace(tzinfo=tz, fold=1).astimezone(UTC).timestamp())
    hi = int(first.timestamp())
    return datetime.fromtimestamp(_jump(min(lo, hi), max(lo, hi), tz), UTC)
