"""Every system at its own defaults, as real processes: rota beside its peers (issue 18).

Run: ``make bench-defaults``, or ``python -m bench.bench_defaults [--store
sqlite,postgres,redis] [--tasks 10000] [--runs 3] [--peers all|none|huey,...] [--no-rota]
[--quick]``. Prints a Markdown table per store, then issue 18's targets, each met or
missed. ``--quick`` is a smoke run: 300 tasks, one run, 20 samples. PostgreSQL is
``ROTA_BENCH_POSTGRES_URL`` (default the local ``test`` database; every system gets a
schema or database of its own, dropped after), Redis ``ROTA_BENCH_REDIS_URL`` (databases
1-7, flushed before and after each phase).

The protocol: no-op tasks; each system's own worker command at its default settings, two
worker processes (``bench/defaults/peers.py`` says how each gets two); the producer
through each system's own Python API in this process; the median of ``--runs`` runs, one
after another, each going phase by phase with every system back to back so that a slow
spell of the machine falls on all alike. rota's rows: in-process (``rota worker
--in-process``, ``Service`` as producer) and over HTTP (``rota serve`` + ``rota worker
--url``, ``rota.Client``), each also with fairness and limits on (a second row and its
ratio to the first); see ``bench/defaults/rota_systems.py``.

Each handler (``bench/defaults_apps``) sends ``time.perf_counter()`` on its first line to
this process in a UDP datagram; CLOCK_MONOTONIC is one clock across processes. Figures:

- drain /s: ``--tasks`` tasks enqueued first through the bulk API (not timed; then, on
  PostgreSQL, ANALYZE and CHECKPOINT), then the two workers started; from the first
  handler's start until the system's own bookkeeping, polled every 10 ms, says all are
  done. rota: none scheduled, queued or running in the store (results stored). The peers:
  their acknowledgement (``peers.py``, ``peers_redis.py`` say which; Celery's is the start).
- one-by-one enqueue /s: ``--tasks`` single enqueue calls into an empty store, no worker
  running (rota over HTTP: ``Client.submit``; in-process: ``Service.enqueue``).
- idle latency p50 / p99 ms: two idle workers, one task at a time, 20 ms apart, after a
  warm-up (bursts until every worker process has run a task, then five singles, all
  discarded); from just before the enqueue call to the handler's first line.
- worker start s: one task queued, one worker command spawned; from just before the spawn
  to that task's handler start (interpreter start and imports included; rota over HTTP
  finds its server already up).

Targets: rota over HTTP is held against PgQueuer's drain and one-by-one enqueue on every
store (when PostgreSQL is in the run); the p50 bounds are 2 ms in-process and 3 ms over
HTTP on PostgreSQL and Redis, 5 ms for the two in-process workers on one SQLite file (none
for SQLite over HTTP); p99 <= 10 ms and worker start <= 0.5 s on every rota row.

The tuned figures (rota's worker at concurrency 100, PgQueuer's batch of 50, in one
process) are ``make bench-postgres`` and ``make bench-redis``; their sections in
bench/RESULTS.md stay beside this one's.
"""

from __future__ import annotations

import argparse
import compileall
import os
import signal
import statistics
import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

from bench.bench_postgres import DEFAULT_URL
from bench.defaults import harness, report
from bench.defaults.harness import Figures, Probe, System
from bench.defaults.peers import PgQueuerPeer, ProcrastinatePeer
from bench.defaults.peers_redis import (
    ArqPeer,
    CeleryPeer,
    DramatiqPeer,
    HueyPeer,
    RqPeer,
    SaqPeer,
)
from bench.defaults.rota_systems import rota_rows

PEERS: dict[str, dict[str, Callable[[str], System]]] = {
    "sqlite": {},
    "postgres": {"pgqueuer": PgQueuerPeer, "procrastinate": ProcrastinatePeer},
    "redis": {
        "huey": lambda _: HueyPeer(),
        "dramatiq": lambda _: DramatiqPeer(),
        "rq": lambda _: RqPeer(),
        "celery": lambda _: CeleryPeer(),
        "arq": lambda _: ArqPeer(),
        "saq": lambda _: SaqPeer(),
    },
}
ALL_PEERS = [name for peers in PEERS.values() for name in peers]


def systems(store: str, peers: list[str], postgres_url: str, rota: bool) -> list[System]:
    rows: list[System] = list(rota_rows(store, postgres_url)) if rota else []
    rows += [make(postgres_url) for name, make in PEERS[store].items() if name in peers]
    return rows


def _attempt(what: str, phase: Callable[..., Any], *args: Any) -> Any:
    """Run one phase of one system; a failure is printed and leaves that figure out."""
    try:
        return phase(*args)
    except Exception:
        print(f"  {what} failed:\n{traceback.format_exc(limit=4)}", file=sys.stderr, flush=True)
        return None


def measure(
    store: str, rows: list[System], args: argparse.Namespace, probe: Probe
) -> dict[str, Figures]:
    runs: dict[str, list[Figures]] = {system.name: [] for system in rows}
    for run in range(args.runs):
        figures: dict[str, Figures] = {system.name: {} for system in rows}
        tag = f"[{store} {run + 1}/{args.runs}]"
        for system in rows:
            rate = _attempt(f"{system.name} enqueue", harness.one_by_one, system, args.tasks)
            if rate is not None:
                figures[system.name]["enqueue"] = rate
                _say(tag, f"{system.name}: one-by-one enqueue {rate:,.0f}/s")
        for system in rows:
            rate = _attempt(f"{system.name} drain", harness.drain, system, args.tasks, probe)
            if rate is not None:
                figures[system.name]["drain"] = rate
                _say(tag, f"{system.name}: drain {rate:,.0f}/s")
        for system in rows:
            got = _attempt(f"{system.name} idle", harness.idle, system, args.samples, probe)
            if got is not None:
                idle, seen = got
                figures[system.name] |= idle
                _say(tag, f"{system.name}: start {idle['start']:.2f} s, p50 {idle['p50']:.2f} ms, "
                    f"p99 {idle['p99']:.2f} ms")  # fmt: skip
                if seen < system.processes:
                    _say(tag, f"{system.name}: only {seen} of {system.processes} worker processes "
                        "took a warm-up task")  # fmt: skip
        for name, got in figures.items():
            runs[name].append(got)
    medians = {name: _median(got) for name, got in runs.items()}
    for name, got in runs.items():
        off = runs.get(name.removesuffix(" fair+limits"))
        if name.endswith(" fair+limits") and off is not None:
            medians[name] |= report.paired_ratios(got, off)
    return medians


def _say(tag: str, text: str) -> None:
    print(f"{tag} {text}", file=sys.stderr, flush=True)


def _median(runs: list[Figures]) -> Figures:
    """Each figure's median over the runs that measured it (a failed phase leaves a gap)."""
    keys = {key for run in runs for key in run}
    return {key: statistics.median(run[key] for run in runs if key in run) for key in keys}


def _stop(signum: int, frame: object) -> NoReturn:
    """SIGTERM unwinds every ``with`` (each stops its processes), as Ctrl-C does."""
    raise SystemExit(128 + signum)


def _compile() -> None:
    """Bytecode for rota and the bench's apps, as the peers have theirs from pip's install:
    an editable rota would otherwise compile its modules in every worker it starts where
    PYTHONDONTWRITEBYTECODE is set (about 0.1 s of each worker start)."""
    here = os.path.dirname(os.path.abspath(__file__))
    for folder in (os.path.join(here, "..", "rota"), here):
        compileall.compile_dir(folder, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default="sqlite,postgres,redis", help="comma-separated")
    parser.add_argument("--tasks", type=int, default=10_000, help="per drain and enqueue run")
    parser.add_argument("--runs", type=int, default=3, help="the median of this many")
    parser.add_argument("--samples", type=int, default=300, help="idle latency samples")
    parser.add_argument("--peers", default="all", help=f"all, none, or some of {ALL_PEERS}")
    parser.add_argument("--no-rota", action="store_true", help="the peers' rows only")
    parser.add_argument("--quick", action="store_true", help="300 tasks, 1 run, 20 samples")
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.runs, args.samples = 300, 1, 20
    stores = [s for s in args.store.split(",") if s]
    chosen = {"all": ",".join(ALL_PEERS), "none": ""}.get(args.peers, args.peers)
    peers = [p for p in chosen.split(",") if p]
    unknown = [s for s in stores if s not in PEERS] + [p for p in peers if p not in ALL_PEERS]
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)}")
    postgres_url = os.environ.get("ROTA_BENCH_POSTGRES_URL", DEFAULT_URL)
    _compile()
    signal.signal(signal.SIGTERM, _stop)
    probe = Probe()
    results: report.Results = {}
    try:
        for store in stores:
            results[store] = measure(
                store, systems(store, peers, postgres_url, not args.no_rota), args, probe
            )
            print(report.table(store, results[store], args.tasks, args.runs) + "\n", flush=True)
        print(report.targets(results))
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the sweep
        probe.close()
        harness.reap_children()


if __name__ == "__main__":
    main()
