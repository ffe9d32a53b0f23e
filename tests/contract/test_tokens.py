"""Contract: stored API tokens (digests only, unique by name and digest, revoked once), and
operator controls (small JSON texts by key)."""

from __future__ import annotations

from datetime import datetime

from rota.backends import Backend
from rota.core.auth import Role, TokenRecord, digest
from tests.contract.helpers import T0, at


def token(
    name: str,
    secret: str,
    role: Role = Role.PRODUCER,
    tenant: str | None = None,
    expires_at: datetime | None = None,
) -> TokenRecord:
    return TokenRecord(name, digest(secret), role, tenant, T0, expires_at=expires_at)


async def test_a_token_is_found_by_its_digest_only(backend: Backend) -> None:
    stored = token("ingest", "s" * 40, Role.PRODUCER, tenant="acme", expires_at=at(60))
    assert await backend.token_insert(stored)
    assert await backend.token_get(digest("s" * 40)) == stored
    assert await backend.token_get(digest("t" * 40)) is None
    assert await backend.token_list() == [stored]


async def test_a_name_or_a_digest_is_taken_once(backend: Backend) -> None:
    assert await backend.token_insert(token("a", "secret-a" * 4))
    assert not await backend.token_insert(token("a", "secret-b" * 4))  # same name
    assert not await backend.token_insert(token("b", "secret-a" * 4))  # same digest
    assert [t.name for t in await backend.token_list()] == ["a"]
    assert await backend.token_get(digest("secret-b" * 4)) is None


async def test_revoke_once_and_touch(backend: Backend) -> None:
    assert await backend.token_insert(token("ops", "o" * 40, Role.OPERATOR))
    await backend.token_touch("ops", now=at(5))
    assert await backend.token_revoke("ops", now=at(10))
    assert not await backend.token_revoke("ops", now=at(20))  # revoked already
    assert not await backend.token_revoke("nobody", now=at(20))
    await backend.token_touch("nobody", now=at(20))  # no such token: nothing happens
    found = await backend.token_get(digest("o" * 40))
    assert found is not None
    assert (found.revoked_at, found.last_used_at, found.role) == (at(10), at(5), Role.OPERATOR)
    assert not found.live(at(11))
    assert [t.name for t in await backend.token_list()] == ["ops"]


async def test_tokens_are_listed_by_creation(backend: Backend) -> None:
    late = TokenRecord("late", digest("l" * 40), Role.VIEWER, None, at(2))
    early = TokenRecord("early", digest("e" * 40), Role.WORKER, None, at(1))
    for record in (late, early):
        assert await backend.token_insert(record)
    assert [t.name for t in await backend.token_list()] == ["early", "late"]


async def test_controls_are_set_listed_replaced_and_removed(backend: Backend) -> None:
    assert await backend.control_list() == {}
    await backend.control_set("intake", '{"reason": "maintenance"}')
    await backend.control_set("intake:queue:mail", '{"reason": "smtp down"}')
    await backend.control_set("intake", '{"reason": "upgrade"}')  # replaced
    assert await backend.control_list() == {
        "intake": '{"reason": "upgrade"}',
        "intake:queue:mail": '{"reason": "smtp down"}',
    }
    await backend.control_set("intake", None)
    await backend.control_set("never-set", None)  # removing a missing key is no error
    assert await backend.control_list() == {"intake:queue:mail": '{"reason": "smtp down"}'}
