"""Claims do not wait for their commit to be flushed (unless the URL asks for durable
claims), so a server crash can undo a claim whose worker already has the task. The task is
then queued again; the undone claim's lease token must never be handed out again, or the
worker still running the undone claim would not be fenced off."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from rota.backends.postgres import PostgresBackend
from rota.backends.postgres.claims import claim_query
from rota.backends.postgres.url import PgUrl
from rota.core.errors import ValidationError
from rota.core.models import ClaimRequest, Task
from tests.contract.helpers import at, make_task

LEASE = timedelta(seconds=30)
_TOKEN = Task._fields.index("lease_token")


def _with(pg_url: str, parameter: str) -> str:
    return f"{pg_url}{'&' if '?' in pg_url else '?'}{parameter}"


async def _undone_claim(pg_url: str, claim_commit: str | None) -> tuple[int, str]:
    """Claim in a transaction and roll it back, as a crash undoes a claim whose commit was
    not flushed: the token it handed out, and the commit setting the claim ran under."""
    url = PgUrl.parse(pg_url)
    now = at(1)
    params = {
        "now": now,
        "lease": now + LEASE,
        "worker": "lost",
        "salt": secrets.randbits(32),  # as the service draws it for every claim
        "queue": "default",
        "claim_commit": claim_commit,
    }
    async with await psycopg.AsyncConnection.connect(url.conninfo) as conn:
        await conn.execute(f'SET search_path TO "{url.schema}"')
        row = await (await conn.execute(claim_query("claim_queue", 1), params)).fetchone()
        assert row is not None, "the claim took nothing"
        setting = await (await conn.execute("SHOW synchronous_commit")).fetchone()
        assert setting is not None
        await conn.rollback()
        after = await (await conn.execute("SHOW synchronous_commit")).fetchone()
        assert after == ("on",), "the claim's setting outlived its transaction"
    return row[_TOKEN], setting[0]


async def test_an_undone_claims_token_is_never_handed_out_again(
    backend: PostgresBackend, pg_url: str
) -> None:
    await backend.task_insert_many([make_task("t")])
    undone = {(await _undone_claim(pg_url, "off"))[0] for _ in range(20)}
    assert len(undone) == 20, "an undone claim's token came back"

    now = at(2)
    request = ClaimRequest("w", 1, now, now + LEASE, None, salt=secrets.randbits(32))
    (task,) = await backend.task_claim_many(request)
    assert task.lease_token not in undone
    # Each undone claim counted as the first; so does the claim that stayed.
    assert {token >> 32 for token in undone} == {task.lease_token >> 32} == {1}


@pytest.mark.parametrize(("claim_commit", "expected"), [("off", "off"), (None, "on")])
async def test_a_claim_sets_its_own_commit_only(
    backend: PostgresBackend, pg_url: str, claim_commit: str | None, expected: str
) -> None:
    """'off': the claim's commit returns before the flush; NULL: the session's setting."""
    await backend.task_insert_many([make_task("t")])
    assert (await _undone_claim(pg_url, claim_commit))[1] == expected


@pytest.mark.parametrize(("parameter", "expected"), [("", "off"), ("durable_claims=true", None)])
async def test_durable_claims_come_from_the_url(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, parameter: str, expected: str | None
) -> None:
    sent: list[Any] = []
    execute = psycopg.AsyncConnection.execute

    async def spy(self: Any, query: Any, params: Any = None, **kw: Any) -> Any:
        if isinstance(params, dict) and "claim_commit" in params:
            sent.append(params["claim_commit"])
        return await execute(self, query, params, **kw)

    monkeypatch.setattr(psycopg.AsyncConnection, "execute", spy)
    backend = PostgresBackend(_with(pg_url, parameter) if parameter else pg_url)
    await backend.open()
    try:
        await backend.task_insert_many([make_task("t")])
        now = at(1)
        claimed = await backend.task_claim_many(ClaimRequest("w", 1, now, now + LEASE, None))
    finally:
        await backend.close()
    assert [t.id for t in claimed] == ["t"]
    assert sent and set(sent) == {expected}


def test_durable_claims_must_be_a_boolean() -> None:
    assert PgUrl.parse("postgresql://h/db?durable_claims=on").durable_claims
    assert not PgUrl.parse("postgresql://h/db").durable_claims
    with pytest.raises(ValidationError, match="durable_claims='maybe' is invalid"):
        PgUrl.parse("postgresql://h/db?durable_claims=maybe")
