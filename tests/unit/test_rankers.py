"""The built-in rankers' arithmetic (KAT's time and decay rankers on rota's 0..100 scale;
KAT's boefje and normalizer rankers in KAT's own numbers, as a priority and a rank), and the
registry's guards: unknown names, bad parameters and a ranker that fails or answers
neither a priority nor a (priority, rank) pair."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rota.core.errors import ValidationError
from rota.service.rankers import RankContext, Rankers, kat_priority

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def ctx(*, due: datetime = NOW, last: datetime | None = None) -> RankContext:
    return RankContext("scan", "boefje", {}, None, NOW, due, last)


@pytest.mark.parametrize(("ahead", "priority"), [(0, 100), (900, 75), (1800, 50), (7200, 0)])
def test_time_ranker_ranks_the_sooner_higher(ahead: int, priority: int) -> None:
    due = NOW + timedelta(seconds=ahead)
    assert Rankers().rank({"name": "time"}, ctx(due=due)) == (priority, None)


@pytest.mark.parametrize(
    ("since", "priority"),
    [(None, 100), (DAY / 2, None), (DAY, 15), (3.5 * DAY, 50), (7 * DAY, 100), (30 * DAY, 100)],
)
def test_decay_ranker_after_kat(since: timedelta | None, priority: int | None) -> None:
    last = None if since is None else NOW - since
    found = Rankers().rank({"name": "decay"}, ctx(last=last))
    assert found == (None if priority is None else (priority, None))


def test_parameters_and_guards() -> None:
    rankers = Rankers()
    assert rankers.rank({"name": "decay", "never": 60}, ctx()) == (60, None)
    assert rankers.rank({"name": "time", "low": 20, "window": 60}, ctx(due=NOW + DAY)) == (20, None)
    with pytest.raises(ValidationError, match="unknown name"):
        rankers.rank({"name": "nope"}, ctx())
    with pytest.raises(ValidationError, match="'window' must be a number"):
        rankers.rank({"name": "time", "window": "soon"}, ctx())

    def broken(_: Any) -> int:
        raise KeyError("items")

    rankers.add("broken", broken)
    with pytest.raises(ValidationError, match="ranker 'broken' failed"):
        rankers.rank({"name": "broken"}, ctx())
    rankers.add("floaty", lambda _: 5.5)
    with pytest.raises(ValidationError, match="not a priority"):
        rankers.rank({"name": "floaty"}, ctx())
    with pytest.raises(ValidationError, match="registered already"):
        rankers.add("time", broken)


GRACE = DAY  # kat_boefje's default grace period


@pytest.mark.parametrize(
    ("since", "kat"),
    [
        (None, 2),  # never run
        (GRACE / 2, None),  # inside the grace period: not queued
        (GRACE - timedelta(seconds=1), None),
        (GRACE, 1000),  # t = 0 after the grace period
        (GRACE + DAY, 857),
        (GRACE + 3.5 * DAY, 501),
        (GRACE + 7 * DAY, 3),
        (GRACE + 30 * DAY, 3),
    ],
)
def test_kat_boefje_at_the_clock_points(since: timedelta | None, kat: int | None) -> None:
    last = None if since is None else NOW - since
    found = Rankers().rank({"name": "kat_boefje"}, ctx(last=last))
    assert found == (None if kat is None else (50, float(kat)))


def test_kat_boefje_parameters() -> None:
    rankers = Rankers()
    found = rankers.rank({"name": "kat_boefje", "grace": 0, "window": 100}, ctx(last=NOW))
    assert found == (50, 1000.0)
    last = NOW - timedelta(seconds=50)
    assert rankers.rank({"name": "kat_boefje", "grace": 0, "window": 100}, ctx(last=last)) == (
        50, 501.0,
    )  # fmt: skip


def test_kat_priority_maps_a_users_request_past_a_full_queue() -> None:
    assert kat_priority(1) == (100, 1.0)
    assert kat_priority(2) == (50, 2.0)
    assert kat_priority(1000) == (50, 1000.0)


def raw(ended_at: Any) -> dict[str, Any]:
    return {"raw_data": {"boefje_meta": {"ended_at": ended_at}}}


def test_kat_normalizer_ranks_older_raw_data_first() -> None:
    rankers = Rankers()

    def rank(payload: dict[str, Any]) -> tuple[int, float | None] | None:
        return rankers.rank({"name": "kat_normalizer"}, RankContext(
            "normalize", "normalizer-org1", payload, None, NOW, NOW, None))  # fmt: skip

    old = rank(raw("2023-12-01T10:00:00+00:00"))
    new = rank(raw("2023-12-01T11:00:00Z"))
    assert old == (50, datetime(2023, 12, 1, 10, tzinfo=UTC).timestamp())
    assert new is not None and old is not None and old[1] is not None and new[1] is not None
    assert old[1] + 3600 == new[1]
    assert rank(raw("2023-12-01T10:00:00")) == old  # no offset: UTC
    assert rank(raw("2023-12-01T12:00:00+02:00")) == old
    due = (50, NOW.timestamp())
    for bad in ({}, raw(None), raw("yesterday"), raw(17), {"raw_data": "x"}, raw("1960-01-01")):
        assert rank(bad) == (due if bad != raw("1960-01-01") else (50, 2.0))


def test_a_ranker_may_answer_a_priority_and_a_rank() -> None:
    rankers = Rankers()
    rankers.add("pair", lambda _: (70, 4))
    assert rankers.rank({"name": "pair"}, ctx()) == (70, 4.0)
    rankers.add("bad_rank", lambda _: (70, "first"))
    with pytest.raises(ValidationError, match="rank 'first', not a number"):
        rankers.rank({"name": "bad_rank"}, ctx())
