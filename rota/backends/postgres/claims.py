"""Claims on PostgreSQL: which statement a claim takes, the two paths of a claim that
global limits bound, and what claims remember between them.

A claim across every queue takes claim_any's single statement unless several queues had
ready rows last time (then claim_merge); scheduled tasks are promoted before a claim only
when one may be due (``promote_at``, which inserts and wake-ups reset); a limited claim
far from its limits runs beside others (one slot of each queue's lock), near them alone
(the whole lock), and walks on window by window when its first window was not enough.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any

import psycopg

from rota.backends.postgres.decode import in_order
from rota.backends.postgres.queries import LIMIT_SLOTS, Q
from rota.core.admission import Admission
from rota.core.models import ClaimRequest, Task

# Claims skip promoting scheduled tasks until the earliest is due, as long as every write
# that schedules one is heard (NOTIFY); they re-check at least this often all the same.
PROMOTE_RECHECK = timedelta(seconds=1)
#: candidates a claim bound by global limits reads at most (per queue) before it gives up
LIMITED_SCAN_MAX = 10_000
#: after a limited claim found no room for side-by-side claims, how long its queues' claims
#: go straight to the whole lock (seconds)
TIGHT_FOR = 1.0
MERGE_TRIES = 3  # a merged claim's attempts when others took what it chose (_merged)

_SKIP_TENANTS = "AND (tenant IS NULL OR tenant <> ALL(%(skip)s::text[]))"
_NO_NEEDS = "AND requires IS NULL"
_NEEDS_MET = "AND (requires IS NULL OR requires <@ %(caps)s::text[])"


@functools.lru_cache(maxsize=256)
def claim_query(
    name: str, limit: int, skip_tenants: bool = False, capable: bool = False, roomy: bool = False
) -> str:
    """The claim with its limit, tenant and capability filters written in (see claim_any in
    queries.sql); ``roomy``: a limited claim far from its limits, whose gate comes first
    (LIMIT_GATE: it takes the claim's slots and may shut it) and whose rows end with the
    gate's answer. Only code lines are written in: a comment may name the words."""
    can_run = _NEEDS_MET if capable else _NO_NEEDS
    words = {
        "ROOMY_GATE": Q["LIMIT_GATE"] if roomy else "",
        "CLAIM_END": ", " + Q["GATED_CLAIM"] if roomy else Q["CLAIM_PICKED"],
        "ROOMY_OPEN": ", (SELECT open FROM gate)" if roomy else "",
        "CLAIM_LIMIT": str(int(limit)),
        "CLAIM_WINDOW": str(int(limit) * 2 + 32),  # LIMITED_CLAIM's window
        "TENANT_OPEN": _SKIP_TENANTS if skip_tenants else "",
        "CAN_RUN": can_run + (" AND (SELECT open FROM gate)" if roomy else ""),
    }
    lines = []
    for line in Q[name].splitlines():
        if not line.lstrip().startswith("--"):
            for word, text in words.items():
                line = line.replace(word, text)
        lines.append(line)
    return "\n".join(lines)


class Claims:
    """The claim verb of one backend, and its memory between claims."""

    def __init__(
        self,
        connect: Callable[[], AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]],
        *,
        durable: bool,
        channel: str,
    ) -> None:
        self._conn = connect
        self._durable = durable
        self._channel = channel  # the wake-up channel (wake_unclaimed)
        #: the backend hears every insert (LISTEN): claims may trust promote_at
        self.listening = False
        #: no scheduled row is due before this (see claim_many); None: not known
        self.promote_at: datetime | None = None
        #: bumped by every wake-up that may bring a scheduled task, so a claim in flight
        #: does not put back a promote_at learned before it
        self.wakes = 0
        #: the last claim across every queue merged several queues
        self.merging = False
        #: limited queues (a claim's, sorted) whose claims take the whole lock until then
        self.tight: dict[tuple[str, ...], float] = {}

    def forget_promote_at(self) -> None:
        """Something may have been scheduled: the next claim promotes again."""
        self.wakes += 1
        self.promote_at = None

    def _params(self, request: ClaimRequest) -> dict[str, Any]:
        """A claim's parameters; a limited claim's limits too (its queues sorted), as
        LIMITED_CLAIM and LIMIT_GATE take them."""
        queues = request.queues
        params = {
            "now": request.now,
            "lease": request.lease_expires_at,
            "worker": request.worker_id,
            "salt": request.salt,
            "queues": None if queues is None else list(queues),
            # Claims do not wait for the WAL flush unless asked to (see CLAIM_PICKED).
            "claim_commit": None if self._durable else "off",
            "skip": list(request.skip_tenants),
            "caps": list(request.capabilities),
        }
        if request.limits:
            limits = sorted(request.limits, key=lambda limit: limit.queue)
            params["lq"] = [limit.queue for limit in limits]
            params["lrun"] = [limit.running_max for limit in limits]
            params["ltrun"] = [limit.tenant_running_max for limit in limits]
            params["lrate"] = [limit.rate for limit in limits]
            params["slot"] = request.salt % LIMIT_SLOTS  # the slot waited for when all are taken
        return params

    def _tight(self, params: dict[str, Any]) -> bool:
        """Whether a limited claim's queues lately had no room for claims side by side
        (their claims take the whole locks for a while: TIGHT_FOR)."""
        return self.tight.get(tuple(params["lq"]), 0.0) > time.monotonic()

    def _mark_tight(self, params: dict[str, Any]) -> None:
        """A limited claim found no room beside others: its queues' claims take the whole
        locks for TIGHT_FOR."""
        self.tight[tuple(params["lq"])] = time.monotonic() + TIGHT_FOR

    async def after_insert(
        self,
        conn: psycopg.AsyncConnection[Any],
        insert: tuple[str, dict[str, Any]],
        request: ClaimRequest,
    ) -> tuple[psycopg.AsyncCursor[Any], list[Task] | None]:
        """The named insert statement ``insert``, then this claim's first statement, in one
        round trip and one transaction (the backend's task_insert_claim): the claim sees
        the inserted row, and the commit waits for its flush, as the insert's alone does.
        The insert's cursor, and what the claim took; None when that statement was not the
        whole claim: claim_any found several queues ready, a merged claim found what it
        chose taken by others, the gate shut, or the queues were tight (then the claim is
        not sent). The caller then claims on its own (claim_many).

        The transaction announces the task (NOTIFY) only when the claim left it queued
        (insert_claim_quiet, wake_unclaimed): when the claim took it, no claimer in any
        process is woken to find nothing."""
        params = {**self._params(request), "claim_commit": None}
        if request.limits and self._tight(params):
            return await conn.execute(Q[insert[0]], insert[1]), None
        name = self._statement(request, params)
        query = claim_query(name, request.limit, *_filters(request), roomy=bool(request.limits))
        quiet: tuple[str, dict[str, Any]] = ("insert_claim_quiet", {})
        wake = ("wake_unclaimed", {"channel": self._channel, "id": insert[1]["id"]})
        firsts, cur = await self._pipelined(conn, request, params, query, [quiet, insert], (wake,))
        rows = await cur.fetchall()
        return firsts[1], self._whole(request, params, name, rows)

    def _whole(
        self, request: ClaimRequest, params: dict[str, Any], name: str, rows: list[Any]
    ) -> list[Task] | None:
        """What a claim's first statement took when that was the whole claim (after_insert),
        read as claim_many and _claim_roomy read it; None when more must be asked."""
        if request.limits:
            passed = _through_gate(rows)
            if passed is None:
                self._mark_tight(params)
                return None
            rows = passed
        if name in ("claim_merge", "claim_queues"):  # MERGED_CLAIM's two numbers
            chosen, merged = rows[0][-2:]
            if request.queues is None:
                self.merging = merged > 1
            if rows[0][0] is None:
                return [] if chosen == 0 else None
            return in_order([row[:-2] for row in rows])
        taken = [row for row in rows if row[0] is not None]
        if name == "claim_any" and not taken:
            return None
        return in_order(taken)

    async def claim_many(self, request: ClaimRequest) -> list[Task]:
        params = self._params(request)
        if request.limits:
            return await self._claim_limited(request, params)
        name = self._statement(request, params)
        query = claim_query(name, request.limit, *_filters(request))
        # Rows come back in binary: no timestamps or numbers to parse from text (drain +5%
        # against text, 6 of 6 paired rounds); the Python values are the same.
        async with self._conn() as conn:
            rows = await (await self._run(conn, request, params, query)).fetchall()
            if name == "claim_any" and not rows:
                # Several queues have ready rows (or none has): merge their heads.
                name = "claim_merge"
                query = claim_query(name, request.limit, *_filters(request))
                rows = await (await conn.execute(query, params, binary=True)).fetchall()
            if name in ("claim_merge", "claim_queues"):
                taken = await self._merged(conn, query, params, rows)
                assert taken is not None  # no gate: never shut
                rows, merged = taken
                if request.queues is None:
                    self.merging = merged > 1
        return in_order(rows)

    async def _run(
        self,
        conn: psycopg.AsyncConnection[Any],
        request: ClaimRequest,
        params: dict[str, Any],
        query: str,
    ) -> psycopg.AsyncCursor[Any]:
        """The claim statement; before it, in the same round trip and transaction, the
        promotion of due scheduled tasks when one may be due (it commits with the claim:
        CLAIM_PICKED, no flush wait)."""
        if not self._promoting(request.now):
            return await conn.execute(query, params, binary=True)
        _, cur = await self._pipelined(conn, request, params, query, [])
        return cur

    def _statement(self, request: ClaimRequest, params: dict[str, Any]) -> str:
        """Which claim statement a claim takes (setting its own parameters)."""
        queues = request.queues
        if request.task_ids:
            params["ids"] = list(request.task_ids)
            return "claim_given"
        if queues is None:
            # Claims across every queue take claim_any's single statement, unless the last
            # one found several queues with ready rows: then straight to the merge.
            return "claim_merge" if self.merging else "claim_any"
        if len(queues) == 1:
            params["queue"] = queues[0]
            return "claim_queue"
        return "claim_queues"

    async def _pipelined(
        self,
        conn: psycopg.AsyncConnection[Any],
        request: ClaimRequest,
        params: dict[str, Any],
        query: str,
        before: list[tuple[str, dict[str, Any]]],
        after: tuple[tuple[str, dict[str, Any]], ...] = (),
    ) -> tuple[list[psycopg.AsyncCursor[Any]], psycopg.AsyncCursor[Any]]:
        """One round trip and one implicit transaction (no Sync until the pipeline ends):
        the named statements ``before`` (locks, an insert), the promotion when one may be due,
        the claim, then the named statements ``after``; what the promotion answered is
        learned. The cursors of ``before``, and the claim's."""
        promoted, wakes = None, self.wakes
        async with conn.pipeline():
            firsts = [await conn.execute(Q[name], args) for name, args in before]
            if self._promoting(request.now):
                promoted = await conn.execute(Q["promote_due"], params)
            cur = await conn.execute(query, params, binary=True)
            for name, args in after:
                await conn.execute(Q[name], args)
        if promoted is not None:
            await self._learn(promoted, wakes, request.now)
        return firsts, cur

    def _promoting(self, now: datetime) -> bool:
        """Whether a claim promotes due scheduled tasks first: unless every insert is heard
        and none is due yet."""
        return not (self.listening and self.promote_at is not None and now < self.promote_at)

    async def _learn(self, promoted: psycopg.AsyncCursor[Any], wakes: int, now: datetime) -> None:
        """When the next promotion is due, from promote_due's answer, unless news arrived
        while we asked."""
        row = await promoted.fetchone()
        if wakes == self.wakes:
            recheck = now + PROMOTE_RECHECK
            due = None if row is None else row[0]
            self.promote_at = recheck if due is None else min(due, recheck)

    @staticmethod
    async def _merged(
        conn: psycopg.AsyncConnection[Any],
        query: str,
        params: dict[str, Any],
        rows: list[Any],
        gated: bool = False,
    ) -> tuple[list[Any], int] | None:
        """The rows a merged claim (claim_merge, claim_queues) took, and how many queues it
        merged. Each row carries two numbers (its last columns): the rows the claim chose,
        and the queues. A row of NULLs means it took none. Chosen but none taken: others
        claimed them since its snapshot (many claimers at once), while rows are ready. It
        then tries again at once, up to MERGE_TRIES times in all, rather than leave its
        worker waiting for a wake-up. ``gated``: a roomy claim, whose rows end with its
        gate's answer; None when the gate shut."""
        for tries in range(1, MERGE_TRIES + 1):
            if gated:
                passed = _through_gate(rows)
                if passed is None:
                    return None
                rows = passed
            chosen, merged = rows[0][-2:]
            if rows[0][0] is not None:
                return [r[:-2] for r in rows], merged
            if chosen == 0 or tries == MERGE_TRIES:
                break
            rows = await (await conn.execute(query, params, binary=True)).fetchall()
        return [], merged

    async def _claim_limited(self, request: ClaimRequest, params: dict[str, Any]) -> list[Task]:
        """A claim that some queue's global limits bound (rota.core.admission). Far from
        its limits it claims as an unlimited claim does, beside others (_claim_roomy);
        otherwise it takes the queues' whole locks and admits, in one round trip, one
        implicit transaction (no Sync until the end of the pipeline): the locks, then
        LIMITED_CLAIM, whose snapshot comes after them. Only when its window of candidates
        was not enough does the claim walk on (_claim_walk)."""
        if not self._tight(params):
            rows = await self._claim_roomy(request, params)
            if rows is not None:
                return rows
            self._mark_tight(params)
        name = "claim_limited_any" if request.queues is None else "claim_limited_queues"
        query = claim_query(name, request.limit, *_filters(request))
        async with self._conn() as conn:
            locks = [("limit_lock", {"queue": queue}) for queue in params["lq"]]
            _, cur = await self._pipelined(conn, request, params, query, locks)
            rows = await cur.fetchall()
        if rows[0][-1]:  # the window was not enough: nothing leased yet
            return await self._claim_walk(request, params)
        return in_order([row[:-1] for row in rows if row[0] is not None])

    async def _claim_roomy(
        self, request: ClaimRequest, params: dict[str, Any], name: str = ""
    ) -> list[Task] | None:
        """A limited claim as if far from its limits, in one statement (one round trip, one
        transaction), as a claim of a queue without limits: its gate (LIMIT_GATE) first
        takes a slot of each queue's lock, held until the claim commits, and asks whether
        there is room for a claim in every slot; the claim takes nothing when the gate
        said no. None: no room, the caller takes the whole locks. Otherwise what it took:
        nothing, with room, means nothing ready, unless claim_any found several queues
        with ready rows; then claim_merge, the same way, as an unlimited claim does."""
        name = name or self._statement(request, params)
        query = claim_query(name, request.limit, *_filters(request), roomy=True)
        async with self._conn() as conn:
            rows = await (await self._run(conn, request, params, query)).fetchall()
            if name in ("claim_merge", "claim_queues"):
                taken = await self._merged(conn, query, params, rows, gated=True)
                return None if taken is None else in_order(taken[0])
        passed = _through_gate(rows)
        if passed is None:
            return None
        if name == "claim_any" and passed[0][0] is None:  # a row of NULLs: it took none
            return await self._claim_roomy(request, params, "claim_merge")
        return in_order([row for row in passed if row[0] is not None])

    async def _claim_walk(self, request: ClaimRequest, params: dict[str, Any]) -> list[Task]:
        """A limited claim whose first window was not enough (limits stepped over many of
        its rows), in one transaction holding the queues' locks: each claimed queue's
        candidates in order, a window at a time, merged, admitted one by one, then leased."""
        limited = {limit.queue: limit for limit in request.limits}
        names = sorted(limited)
        window = request.limit + 32
        async with self._conn() as conn:
            try:
                if request.queues is None:
                    rows = await (await conn.execute(claim_query("ready_hashes", 0))).fetchall()
                    walks = [("pick_hash", {"h": r[0]}) for r in rows]
                else:
                    walks = [("pick_queue", {"queue": q}) for q in dict.fromkeys(request.queues)]
                async with conn.pipeline():
                    await conn.execute("BEGIN")
                    for name in names:
                        await conn.execute(Q["limit_lock"], {"queue": name})
                    counted = await conn.execute(Q["running_by_queue"], (names,))
                    held = await conn.execute(Q["get_buckets"], (names,))
                running: dict[str, int] = {}
                tenants: dict[tuple[str, str], int] = {}
                for queue, tenant, n in await counted.fetchall():
                    running[queue] = running.get(queue, 0) + n
                    if tenant is not None:
                        tenants[(queue, tenant)] = n
                buckets = {q: (tokens, at) for q, tokens, at in await held.fetchall()}
                admission = Admission(limited, running, tenants, buckets, request.now)
                chosen: list[str] = []
                for offset in range(0, LIMITED_SCAN_MAX, window):
                    picks = [await self._pick(conn, request, params, w, window, offset)
                             for w in walks]  # fmt: skip
                    page = [row for cur in picks for row in await cur.fetchall()]
                    page.sort(key=lambda r: (-r[3], r[4], r[5]))
                    for ctid, queue, tenant, *_ in page:
                        if len(chosen) < request.limit and admission.admit(queue, tenant):
                            chosen.append(ctid)
                    if len(chosen) == request.limit or len(page) < window:
                        break
                    walks = [w for w in walks if not admission.exhausted(w[1].get("queue", ""))]
                    if not walks:
                        break
                kept = admission.buckets()
                async with conn.pipeline():
                    if kept:
                        queues = sorted(kept)
                        tokens = [kept[q][0] for q in queues]
                        at = [kept[q][1] for q in queues]
                        await conn.execute(Q["put_buckets"], (queues, tokens, at))
                    claim = claim_query("claim_ids", 0)
                    leased = await conn.execute(claim, {**params, "ctids": chosen})
                    await conn.execute("COMMIT")
                rows = await leased.fetchall()
            except BaseException:
                if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    await conn.execute("ROLLBACK")
                raise
        return in_order(rows)

    @staticmethod
    async def _pick(
        conn: psycopg.AsyncConnection[Any],
        request: ClaimRequest,
        params: dict[str, Any],
        walk: tuple[str, dict[str, Any]],
        window: int,
        offset: int,
    ) -> psycopg.AsyncCursor[Any]:
        """One window of one queue's candidates (limited claims)."""
        name, extra = walk
        query = claim_query(name, 0, bool(request.skip_tenants), bool(request.capabilities))
        return await conn.execute(query, {**params, **extra, "window": window, "offset": offset})


def _through_gate(rows: list[Any]) -> list[Any] | None:
    """A roomy claim's rows without the gate's answer (their last column, the same in
    every row; there is always one row); None when the gate shut."""
    if not rows[0][-1]:
        return None
    return [row[:-1] for row in rows]


def _filters(request: ClaimRequest) -> tuple[bool, bool]:
    """claim_query's skip_tenants and capable, for this claim."""
    return bool(request.skip_tenants), bool(request.capabilities)
