"""Contract: the audit log keeps operator actions in order, newest first, pages with
``before`` and filters by action and actor, on every store."""

from __future__ import annotations

from rota.backends import Backend
from rota.core.models import AuditEntry
from tests.contract.helpers import at


def entry(second: int, actor: str, action: str, target: str | None = None) -> AuditEntry:
    return AuditEntry(0, at(second), actor, action, target, f"why {second}", '{"n":1}')


async def test_entries_come_back_newest_first_with_every_field(backend: Backend) -> None:
    assert await backend.audit_list(limit=10, before=None, action=None, actor=None) == []
    await backend.audit_append(entry(1, "token:ops", "intake.block", "queue-a"))
    await backend.audit_append(entry(2, "token:ops", "task.cancel", "t-1"))
    await backend.audit_append(entry(3, "token:eve", "task.cancel", "t-2"))
    found = await backend.audit_list(limit=10, before=None, action=None, actor=None)
    assert [(e.action, e.target) for e in found] == [
        ("task.cancel", "t-2"), ("task.cancel", "t-1"), ("intake.block", "queue-a"),
    ]  # fmt: skip
    newest = found[0]
    assert (newest.at, newest.actor, newest.reason, newest.detail) == (
        at(3), "token:eve", "why 3", '{"n":1}',
    )  # fmt: skip
    seqs = [e.seq for e in found]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 3


async def test_pages_and_filters(backend: Backend) -> None:
    for second in range(1, 8):
        actor = "token:ops" if second % 2 else "token:eve"
        action = "task.retry" if second <= 4 else "token.revoke"
        await backend.audit_append(entry(second, actor, action, f"x{second}"))
    first = await backend.audit_list(limit=3, before=None, action=None, actor=None)
    assert [e.target for e in first] == ["x7", "x6", "x5"]
    second = await backend.audit_list(limit=3, before=first[-1].seq, action=None, actor=None)
    assert [e.target for e in second] == ["x4", "x3", "x2"]
    retries = await backend.audit_list(limit=10, before=None, action="task.retry", actor=None)
    assert [e.target for e in retries] == ["x4", "x3", "x2", "x1"]
    eve = await backend.audit_list(limit=10, before=None, action=None, actor="token:eve")
    assert [e.target for e in eve] == ["x6", "x4", "x2"]
    both = await backend.audit_list(limit=10, before=None, action="task.retry", actor="token:ops")
    assert [e.target for e in both] == ["x3", "x1"]
