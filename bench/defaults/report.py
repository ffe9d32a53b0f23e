"""The printed tables: one per store, then issue 18's targets, each met or missed.

Tables are Markdown, in the form of bench/RESULTS.md, so a full run's output can go there
as it is printed. A figure a run could not measure prints as ``-`` and its targets as
``n/a``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator

from bench.defaults.harness import Figures

STORES = {"sqlite": "SQLite", "postgres": "PostgreSQL", "redis": "Redis"}
#: (key, heading, format, higher is better)
COLUMNS = [
    ("drain", "drain /s", "{:,.0f}", True),
    ("enqueue", "one-by-one enqueue /s", "{:,.0f}", True),
    ("p50", "idle latency p50 ms", "{:.2f}", False),
    ("p99", "p99 ms", "{:.2f}", False),
    ("start", "worker start s", "{:.2f}", False),
]
P50_BOUNDS = {
    ("sqlite", False): 5.0,
    ("sqlite", True): None,
    ("postgres", False): 2.0,
    ("postgres", True): 3.0,
    ("redis", False): 2.0,
    ("redis", True): 3.0,
}
Results = dict[str, dict[str, Figures]]  # store -> system name -> figures


def _value(figures: Figures, key: str) -> float:
    return figures.get(key, math.nan)


def _cell(value: float, fmt: str) -> str:
    return "-" if math.isnan(value) else fmt.format(value)


def fair_ratio(on: Figures, off: Figures, key: str, higher: bool) -> float:
    """``on`` as a share of ``off``'s speed: for a time (latency, start) off / on."""
    a, b = _value(on, key), _value(off, key)
    return (a / b if higher else b / a) if a and b else math.nan


PAIRED = "paired "  # the prefix of a fair row's paired ratios among its figures


def paired_ratios(on: list[Figures], off: list[Figures]) -> Figures:
    """Each figure's fair+limits / off ratio within each run (the two rows ran back to back,
    so a slow spell of the machine falls on both), and the median of those: the medians'
    ratio may pair one run's ``on`` with another's ``off``. Printed beside the targets'
    ratio, which stays the ratio of the medians."""
    paired: Figures = {}
    for key, _, _, higher in COLUMNS:
        ratios = [fair_ratio(a, b, key, higher) for a, b in zip(on, off, strict=True)]
        ratios = [r for r in ratios if not math.isnan(r)]
        if ratios:
            paired[PAIRED + key] = statistics.median(ratios)
    return paired


def table(store: str, rows: dict[str, Figures], tasks: int, runs: int) -> str:
    lines = [
        f"### {STORES[store]}: {tasks:,} no-op tasks, median of {runs} run(s)",
        "",
        "| system | " + " | ".join(heading for _, heading, _, _ in COLUMNS) + " |",
        "|---|" + "---:|" * len(COLUMNS),
    ]
    for name, figures in rows.items():
        cells = [_cell(_value(figures, key), fmt) for key, _, fmt, _ in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
        off = rows.get(name.removesuffix(" fair+limits"))
        if name.endswith(" fair+limits") and off is not None:
            ratios = [fair_ratio(figures, off, key, higher) for key, _, _, higher in COLUMNS]
            cells = [_cell(r, "{:.2f}x") for r in ratios]
            lines.append("| ↳ fair+limits / off (speed) | " + " | ".join(cells) + " |")
            if any(k.startswith(PAIRED) for k in figures):
                cells = [_cell(_value(figures, PAIRED + key), "{:.2f}x") for key, *_ in COLUMNS]
                lines.append("| ↳ the same, median of each run's | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _check(label: str, value: float, bound: float, at_least: bool, shown: str) -> str:
    if math.isnan(value):
        return f"| {label} | - | n/a |"
    met = value >= bound if at_least else value <= bound
    return f"| {label} | {shown} | {'met' if met else '**missed**'} |"


def _ratio(label: str, mine: float, theirs: float, bound: float, whose: str) -> str:
    value = mine / theirs if mine and theirs else math.nan
    shown = f"{value:.2f}x ({mine:,.0f} vs {whose} {theirs:,.0f})"
    return _check(f"{label} >= {bound:g}x", value, bound, True, shown)


def _fastest_peer(rows: dict[str, Figures]) -> tuple[str, float]:
    peers = [(n, _value(f, "drain")) for n, f in rows.items() if not n.startswith("rota")]
    peers = [(n, d) for n, d in peers if not math.isnan(d)]
    return max(peers, key=lambda p: p[1]) if peers else ("no peer", math.nan)


def targets(results: Results) -> str:
    lines = ["### Targets (issue 18)", "", "| target | measured | |", "|---|---:|---|"]
    pgq = results.get("postgres", {}).get("pgqueuer", {})
    for store, rows in results.items():
        lines += list(_store_targets(store, rows, pgq))
    if not pgq:
        lines.append("| HTTP against PgQueuer | - | n/a: PgQueuer not measured in this run |")
    return "\n".join(lines)


def _store_targets(store: str, rows: dict[str, Figures], pgq: Figures) -> Iterator[str]:
    local, http = rows.get("rota in-process", {}), rows.get("rota http", {})
    if store == "postgres":
        yield _ratio("postgres: in-process drain vs PgQueuer's", _value(local, "drain"),
                     _value(pgq, "drain"), 3, "PgQueuer")  # fmt: skip
    elif store == "redis":
        peer, fastest = _fastest_peer(rows)
        yield _ratio("redis: in-process drain vs the fastest peer", _value(local, "drain"),
                     fastest, 3, peer)  # fmt: skip
    if pgq:
        yield _ratio(f"{store}: HTTP drain vs PgQueuer's", _value(http, "drain"),
                     _value(pgq, "drain"), 1.5, "PgQueuer")  # fmt: skip
        yield _ratio(f"{store}: Client.submit one by one vs PgQueuer's enqueue",
                     _value(http, "enqueue"), _value(pgq, "enqueue"), 1, "PgQueuer")  # fmt: skip
    for name, figures in rows.items():
        if not name.startswith("rota"):
            continue
        over_http = name.startswith("rota http")
        # the bounds: 2 ms in-process, 3 ms over HTTP on PostgreSQL and Redis; 5 ms
        # for two workers on one SQLite file (none for SQLite over HTTP)
        p50 = P50_BOUNDS[store, over_http]
        if p50 is not None:
            value = _value(figures, "p50")
            yield _check(f"{store}, {name}: p50 <= {p50:g} ms", value, p50, False, f"{value:.2f}")
        value = _value(figures, "p99")
        yield _check(f"{store}, {name}: p99 <= 10 ms", value, 10, False, f"{value:.2f}")
        value = _value(figures, "start")
        yield _check(f"{store}, {name}: worker start <= 0.5 s", value, 0.5, False, f"{value:.2f}")
        off = rows.get(name.removesuffix(" fair+limits"))
        if name.endswith(" fair+limits") and off is not None:
            ratios = {key: fair_ratio(figures, off, key, higher) for key, _, _, higher in COLUMNS}
            worst = min(ratios, key=lambda k: ratios[k] if not math.isnan(ratios[k]) else -1)
            low = ratios[worst]
            shown = f"lowest {low:.2f}x ({worst})"
            yield _check(f"{store}, {name} / off: every figure >= 0.8x", low, 0.8, True, shown)
