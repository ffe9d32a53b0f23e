"""``rota simulate``: the scheduling simulator's report, on the documented workload or a trace.

The simulation itself (:mod:`rota.simulator`) does no I/O; reading the trace is done here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rota.core.errors import ValidationError
from rota.core.priority import priority_name
from rota.core.queues import Aging, QueueSettings
from rota.simulator import (
    DEFAULT_AGING,
    POLICIES,
    Arrival,
    Policy,
    Report,
    Stats,
    load_trace,
    mixed_workload,
)
from rota.simulator import simulate as run

console = Console()


def simulate(
    trace: Annotated[
        Path | None,
        typer.Option(help="a trace to replay, .json or .csv (default: the documented workload)"),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=10_000, help="identical workers")] = 4,
    policy: Annotated[
        list[str] | None,
        typer.Option(help="repeatable: fifo, priority, aging, fair (default: all four)"),
    ] = None,
    seed: Annotated[int, typer.Option(help="the documented workload's seed")] = 1,
    aging_rate: Annotated[
        float, typer.Option(help="aging policy: points per minute of waiting")
    ] = DEFAULT_AGING.rate,
    aging_cap: Annotated[
        int, typer.Option(help="aging policy: no task is raised past this priority")
    ] = DEFAULT_AGING.cap,
) -> None:
    """Mean and p99 wait per priority and tenant, and mean completion time, per policy."""
    chosen: list[Policy] = []
    for name in policy or POLICIES:
        if name not in POLICIES:
            raise typer.BadParameter(f"{name!r}: use {', '.join(POLICIES)}", param_hint="--policy")
        chosen.append(next(p for p in POLICIES if p == name))
    try:
        aging = _aging(aging_rate, aging_cap)
    except ValidationError as exc:
        raise typer.BadParameter(str(exc), param_hint="--aging-rate/--aging-cap") from None
    try:
        arrivals = _read(trace) if trace else mixed_workload(seed)
    except ValidationError as exc:
        raise typer.BadParameter(str(exc), param_hint="--trace") from None
    reports = [run(arrivals, p, workers=workers, aging=aging) for p in chosen]
    source = trace.name if trace else f"mixed workload, seed {seed}"
    console.print(f"{len(arrivals)} tasks ({source}), {workers} worker(s), times in seconds")
    console.print(_summary(reports))
    console.print(
        _groups(reports, "priority", lambda r: {_level(c): s for c, s in r.by_class.items()})
    )
    console.print(_groups(reports, "tenant", lambda r: r.by_tenant))


def _aging(rate: float, cap: int) -> Aging:
    """Checked as a queue's settings are, so the simulator ages as a real queue may."""
    aging = QueueSettings.from_json({"aging": {"rate": rate, "cap": cap}}).aging
    assert aging is not None
    return aging


def _read(path: Path) -> list[Arrival]:
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise ValidationError(f"{path.name}: a trace is a .json or .csv file")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's BOM too
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}") from None
    return load_trace(text, "json" if suffix == ".json" else "csv")


def _level(priority: int) -> str:
    name = priority_name(priority)
    return f"{priority} ({name})" if name else str(priority)


def _summary(reports: list[Report]) -> Table:
    fifo = next((r for r in reports if r.policy == "fifo"), None)
    table = Table("policy", "tasks", "mean wait", "p99 wait", "mean completion", "vs FIFO",
                  "makespan", title="all tasks")  # fmt: skip
    for r in reports:
        change = "-"
        if fifo is not None and fifo.mean_completion > 0:
            change = f"{(r.mean_completion / fifo.mean_completion - 1) * 100:+.1f}%"
        s = r.overall
        table.add_row(r.policy, str(s.count), f"{s.mean_wait:.1f}", f"{s.p99_wait:.1f}",
                      f"{s.mean_completion:.1f}", change, f"{r.makespan:.1f}")  # fmt: skip
    return table


def _groups(
    reports: list[Report], what: str, groups: Callable[[Report], Mapping[str, Stats]]
) -> Table:
    table = Table("policy", what, "tasks", "mean wait", "p99 wait", "mean completion",
                  title=f"by {what}")  # fmt: skip
    for r in reports:
        for i, (name, s) in enumerate(groups(r).items()):
            table.add_row(r.policy if i == 0 else "", name, str(s.count), f"{s.mean_wait:.1f}",
                          f"{s.p99_wait:.1f}", f"{s.mean_completion:.1f}")  # fmt: skip
        table.add_section()
    return table
