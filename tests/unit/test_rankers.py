"""The built-in rankers' arithmetic (KAT's time and decay rankers on rota's 0..100 scale),
and the registry's guards: unknown names, bad parameters and a ranker that fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rota.core.errors import ValidationError
from rota.service.rankers import RankContext, Rankers

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def ctx(*, due: datetime = NOW, last: datetime | None = None) -> RankContext:
    return RankContext("scan", "boefje", {}, None, NOW, due, last)


@pytest.mark.parametrize(("ahead", "priority"), [(0, 100), (900, 75), (1800, 50), (7200, 0)])
def test_time_ranker_ranks_the_sooner_higher(ahead: int, priority: int) -> None:
    due = NOW + timedelta(seconds=ahead)
    assert Rankers().rank({"name": "time"}, ctx(due=due)) == priority


@pytest.mark.parametrize(
    ("since", "priority"),
    [(None, 100), (DAY / 2, None), (DAY, 15), (3.5 * DAY, 50), (7 * DAY, 100), (30 * DAY, 100)],
)
def test_decay_ranker_after_kat(since: timedelta | None, priority: int | None) -> None:
    last = None if since is None else NOW - since
    assert Rankers().rank({"name": "decay"}, ctx(last=last)) == priority


def test_parameters_and_guards() -> None:
    rankers = Rankers()
    assert rankers.rank({"name": "decay", "never": 60}, ctx()) == 60
    assert rankers.rank({"name": "time", "low": 20, "window": 60}, ctx(due=NOW + DAY)) == 20
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
