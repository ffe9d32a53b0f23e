"""The scheduling simulator: its order is the claim order, its policies differ as they
should on the documented workload, and traces are read or refused with a useful message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rota.core.aging import wait_bound
from rota.core.errors import ValidationError
from rota.core.queues import Aging
from rota.simulator import (
    POLICIES,
    Arrival,
    load_trace,
    mixed_workload,
    p99,
    simulate,
)


def names(arrivals: list[Arrival], order: tuple[int, ...]) -> list[str]:
    return [arrivals[i].name for i in order]


# -- order: the claim key, exactly -----------------------------------------------------------


def test_strict_priority_then_enqueue_order_and_fifo_ignores_priority() -> None:
    arrivals = [
        Arrival(0.0, 1.0, 20, name="low"),
        Arrival(0.0, 1.0, 80, name="high1"),
        Arrival(0.0, 1.0, 50, name="mid"),
        Arrival(0.0, 1.0, 80, name="high2"),
    ]
    by_priority = simulate(arrivals, "priority", workers=1)
    assert names(arrivals, by_priority.order) == ["high1", "high2", "mid", "low"]
    fifo = simulate(arrivals, "fifo", workers=1)
    assert names(arrivals, fifo.order) == ["low", "high1", "mid", "high2"]
    # one worker, unit tasks, all at 0: the k-th started waits k seconds
    assert fifo.by_class[20].mean_wait == 0.0
    assert by_priority.by_class[20].mean_wait == 3.0
    assert by_priority.makespan == fifo.makespan == 4.0


def test_fair_share_places_a_newcomer_next_to_the_head_then_alternates() -> None:
    # A queues 4 before B's 2, all at t=0, one worker. Places (fairness.advance): A 1,2,3,4;
    # B's first lands next to the head (place 1) at 2, its second at 3; ties go by seq.
    arrivals = [Arrival(0.0, 1.0, 50, "A", f"A{i}") for i in range(1, 5)]
    arrivals += [Arrival(0.0, 1.0, 50, "B", f"B{i}") for i in range(1, 3)]
    fair = simulate(arrivals, "fair", workers=1)
    assert names(arrivals, fair.order) == ["A1", "A2", "B1", "A3", "B2", "A4"]
    plain = simulate(arrivals, "priority", workers=1)
    assert names(arrivals, plain.order) == ["A1", "A2", "A3", "A4", "B1", "B2"]


def test_fair_share_head_is_the_ready_head_not_the_running_task() -> None:
    # B arrives at 0.5 while A1 runs: the ready head is A2 (place 2), so B1 takes place 3
    # (after A3 by seq) and B2 place 4 (after A4).
    arrivals = [Arrival(0.0, 1.0, 50, "A", f"A{i}") for i in range(1, 5)]
    arrivals += [Arrival(0.5, 1.0, 50, "B", f"B{i}") for i in range(1, 3)]
    fair = simulate(arrivals, "fair", workers=1)
    assert names(arrivals, fair.order) == ["A1", "A2", "A3", "B1", "A4", "B2"]


def test_trace_order_is_sorted_by_time_with_ties_in_trace_order() -> None:
    arrivals = [Arrival(2.0, 1.0, 50, name="late"), Arrival(0.0, 1.0, 50, name="x"),
                Arrival(0.0, 1.0, 50, name="y")]  # fmt: skip
    report = simulate(arrivals, "fifo", workers=1)
    ordered = sorted(arrivals, key=lambda a: a.at)
    assert names(ordered, report.order) == ["x", "y", "late"]
    assert report.overall.max_wait == 1.0  # "late" arrives at 2, y finishes at 2: no wait


# -- the policies on a flood -------------------------------------------------------------------


def flood(seconds: int) -> list[Arrival]:
    """One unit task of priority 80 every second on one worker (utilisation 1), and one
    priority-20 task that arrives just after the first."""
    high = [Arrival(float(t), 1.0, 80, "flood", f"h{t}") for t in range(seconds)]
    return [*high, Arrival(0.5, 1.0, 20, "small", "low")]


def test_aging_bounds_the_wait_of_a_low_task_under_a_flood() -> None:
    arrivals = flood(600)
    aging = Aging(rate=60.0, cap=100)  # a step a second
    strict = simulate(arrivals, "priority", workers=1)
    aged = simulate(arrivals, "aging", workers=1, aging=aging)
    assert strict.by_class[20].max_wait > 590  # runs only when the flood ends
    bound = wait_bound(20, 80, aging)
    assert bound is not None
    assert aged.by_class[20].max_wait <= bound + aging.step_seconds
    assert aged.by_class[20].max_wait > bound - 2 * aging.step_seconds  # not earlier either
    # a cap below the flood never lets it through
    capped = simulate(arrivals, "aging", workers=1, aging=Aging(rate=60.0, cap=79))
    assert capped.by_class[20].max_wait == strict.by_class[20].max_wait


# -- the documented workload -----------------------------------------------------------------


@pytest.fixture(scope="module")
def workload() -> list[Arrival]:
    return mixed_workload(seed=1)


def test_mixed_workload_is_deterministic_and_loaded(workload: list[Arrival]) -> None:
    assert workload == mixed_workload(seed=1)
    assert workload != mixed_workload(seed=2)
    assert {a.tenant for a in workload} == {"bulk", "web", "mobile", "ops"}
    assert {a.priority for a in workload} == {80, 20}
    assert all(0.1 <= a.duration <= 1.0 for a in workload if a.priority == 80)
    assert all(5.0 <= a.duration <= 30.0 for a in workload if a.priority == 20)
    work = sum(a.duration for a in workload)
    span = max(a.at for a in workload)
    assert 0.8 < work / (4 * span) < 1.2  # four workers are about busy throughout


def test_priority_cuts_urgent_waits_and_mean_completion(workload: list[Arrival]) -> None:
    fifo, strict = simulate(workload, "fifo"), simulate(workload, "priority")
    assert strict.by_class[80].mean_wait < fifo.by_class[80].mean_wait / 10
    assert strict.by_class[80].p99_wait < fifo.by_class[80].p99_wait
    assert strict.by_class[20].mean_wait > fifo.by_class[20].mean_wait  # someone pays
    assert strict.mean_completion < fifo.mean_completion
    assert strict.makespan == pytest.approx(fifo.makespan)  # work-conserving: same work


def test_fair_share_shields_small_tenants_from_a_flood(workload: list[Arrival]) -> None:
    reports = {p: simulate(workload, p) for p in POLICIES}
    for small in ("web", "mobile", "ops"):
        fair = reports["fair"].by_tenant[small]
        assert fair.mean_wait < reports["priority"].by_tenant[small].mean_wait
        assert fair.mean_wait < reports["fifo"].by_tenant[small].mean_wait
        assert fair.p99_wait < reports["priority"].by_tenant[small].p99_wait
    assert (
        reports["fair"].by_tenant["bulk"].mean_wait
        > reports["priority"].by_tenant["bulk"].mean_wait
    )


def test_report_groups_count_every_task(workload: list[Arrival]) -> None:
    report = simulate(workload, "aging")
    assert sorted(report.order) == list(range(len(workload)))
    assert sum(s.count for s in report.by_class.values()) == len(workload)
    assert sum(s.count for s in report.by_tenant.values()) == len(workload)


def test_p99_is_nearest_rank() -> None:
    assert p99([]) == 0.0
    assert p99([5.0]) == 5.0
    assert p99([float(i) for i in range(1, 101)]) == 99.0
    assert p99([float(i) for i in range(1, 201)]) == 198.0


def test_workers_must_be_positive() -> None:
    with pytest.raises(ValidationError):
        simulate([], "fifo", workers=0)


# -- traces ----------------------------------------------------------------------------------


def test_json_trace() -> None:
    text = json.dumps([
        {"at": 0, "duration": 1.5, "priority": "high", "tenant": "a"},
        {"at": 2.5, "duration": 3, "priority": 10, "name": "x"},
        {"at": 1, "duration": 0},
    ])  # fmt: skip
    assert load_trace(text, "json") == [
        Arrival(0.0, 1.5, 80, "a"),
        Arrival(2.5, 3.0, 10, None, "x"),
        Arrival(1.0, 0.0, 20, None),
    ]


def test_csv_trace() -> None:
    text = "at,duration,priority,tenant\n0,1.5,high,a\n2.5,3,10,\n1,2,,b\n"
    assert load_trace(text, "csv") == [
        Arrival(0.0, 1.5, 80, "a"),
        Arrival(2.5, 3.0, 10, None),
        Arrival(1.0, 2.0, 20, "b"),
    ]


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        ("at,duration\n0,1\n1,\n", "csv", "line 3.duration: missing"),
        ("at,duration\n0,1\nsoon,1\n", "csv", "line 3.at: 'soon' is not a number"),
        ("at,duration\n-1,1\n", "csv", "line 2.at: -1.0 is negative"),
        ("at,duration,priority\n0,1,urgent\n", "csv", "line 2.priority: unknown priority"),
        ("at,duration,priority\n0,1,101\n", "csv", "line 2.priority: priority 101 is out"),
        ("at,duration,when\n0,1,2\n", "csv", "unknown ['when']"),
        ("duration\n1\n", "csv", "needs at,duration"),
        ("at,duration\n0,1,2\n", "csv", "line 2: more cells"),
        ('[{"at": 0}]', "json", "trace[0].duration: missing"),
        ('[{"at": 0, "duration": true}]', "json", "trace[0].duration: True is not"),
        ('[{"at": 0, "duration": 1, "priority": "80"}]', "json", "trace[0].priority"),
        ('[{"at": 0, "duration": 1, "tenant": 3}]', "json", "trace[0].tenant"),
        ('[{"at": 0, "duration": 1, "size": 3}]', "json", "unknown field(s) ['size']"),
        ("[1]", "json", "trace[0]: must be an object"),
        ('{"at": 0}', "json", "a JSON trace is a list"),
        ("[", "json", "trace is not JSON"),
    ],
)
def test_bad_traces_say_what_to_fix(text: str, fmt: str, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        load_trace(text, "csv" if fmt == "csv" else "json")
    assert message in str(err.value)


# -- the command -----------------------------------------------------------------------------


def test_cli_replays_a_csv_trace(tmp_path: Path) -> None:
    from rota.cli.main import app

    trace = tmp_path / "mine.csv"
    trace.write_text("at,duration,priority,tenant\n0,10,low,a\n1,1,high,b\n2,1,high,b\n")
    args = ["simulate", "--trace", str(trace), "--workers", "1", "--policy", "fifo"]
    result = CliRunner().invoke(app, [*args, "--policy", "priority"])
    assert result.exit_code == 0, result.output
    assert "3 tasks (mine.csv), 1 worker(s)" in result.output
    assert "fifo" in result.output and "priority" in result.output
    assert "aging" not in result.output
    # FIFO: mean completion (10 + 10 + 10) / 3 = 10.0; the same order under priority
    assert "10.0" in result.output


def test_cli_default_workload_and_bad_input(tmp_path: Path) -> None:
    from rota.cli.main import app

    runner = CliRunner()
    result = runner.invoke(app, ["simulate"])
    assert result.exit_code == 0, result.output
    assert "469 tasks (mixed workload, seed 1)" in result.output
    for policy in POLICIES:
        assert policy in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("at,duration\n0,-1\n")
    result = runner.invoke(app, ["simulate", "--trace", str(bad)])
    assert result.exit_code == 2
    assert "line 2.duration" in result.output
    result = runner.invoke(app, ["simulate", "--policy", "lottery"])
    assert result.exit_code == 2
    assert "lottery" in result.output
    result = runner.invoke(app, ["simulate", "--trace", str(tmp_path / "trace.txt")])
    assert result.exit_code == 2
