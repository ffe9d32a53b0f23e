"""Contract: a worker's question "which of my leases has a cancel requested?" (a read)."""

from __future__ import annotations

from rota.backends import Backend
from tests.contract.helpers import S, cancel, claim, finish, insert, make_task


async def test_only_running_leases_with_a_cancel_request_are_named(backend: Backend) -> None:
    await insert(backend, *(make_task(name) for name in ("a", "b", "c", "d")))
    a, b, c, d = sorted(await claim(backend, limit=4), key=lambda t: t.id)
    leases = [(t.id, t.lease_token) for t in (a, b, c, d)]
    assert await backend.task_list_canceling(leases) == []

    await cancel(backend, "a")
    await cancel(backend, "c")
    await cancel(backend, "d")
    assert await finish(backend, d, S.CANCELED)  # ended: no longer running
    asked = [*leases, ("missing", 1), ("b", b.lease_token + 7), ("c", c.lease_token + 1)]
    assert await backend.task_list_canceling(asked) == [
        ("a", a.lease_token),
        ("c", c.lease_token),
    ]  # in the order asked; a stale token or an unknown id is not named
    assert await backend.task_list_canceling([]) == []
