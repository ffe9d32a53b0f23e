"""Fixtures of the backend contract suite.

Every backend is listed once, in :data:`STORES`. To run the whole suite against a new
backend, add one :class:`StoreKind` whose ``url`` gives a fresh, empty store for one test
(for PostgreSQL a per-test schema, for Redis a per-test key prefix), plus a
``cleanup``; a store whose server is missing skips (fails under ``CI=true``) in ``url``.
Nothing else changes: ``backend`` runs every contract test against it, and
``shared_store`` adds the multi-process tests when ``shared`` is true.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rota.backends import Backend, backend_from_url
from tests.conftest import drop_pg_schema, drop_redis_store, new_pg_schema, new_redis_store


@dataclass(frozen=True)
class StoreKind:
    name: str
    #: several processes may open the same store (mirrors ``Backend.shared``)
    shared: bool
    #: the URL of a fresh, empty store, given the test's own temporary directory
    url: Callable[[Path], str]
    marks: tuple[pytest.MarkDecorator, ...] = ()
    #: removes what ``url`` created, after the test
    cleanup: Callable[[str], None] | None = None

    def param(self) -> Any:
        return pytest.param(self, id=self.name, marks=self.marks)


STORES: tuple[StoreKind, ...] = (
    StoreKind("memory", shared=False, url=lambda tmp: "memory://"),
    StoreKind("sqlite", shared=True, url=lambda tmp: f"sqlite:///{tmp / 'rota.db'}"),
    StoreKind("postgres", shared=True, url=lambda tmp: new_pg_schema(), cleanup=drop_pg_schema),
    StoreKind("redis", shared=True, url=lambda tmp: new_redis_store(), cleanup=drop_redis_store),
)


@dataclass(frozen=True)
class Store:
    """One fresh store for one test: its kind and the URL another process can open."""

    kind: StoreKind
    url: str


def _fresh(kind: StoreKind, tmp_path: Path) -> Iterator[Store]:
    url = kind.url(tmp_path)
    try:
        yield Store(kind, url)
    finally:
        if kind.cleanup is not None:
            kind.cleanup(url)


@pytest.fixture(params=[kind.param() for kind in STORES])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from _fresh(request.param, tmp_path)


@pytest.fixture(params=[kind.param() for kind in STORES if kind.shared])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from _fresh(request.param, tmp_path)


@pytest.fixture
async def backend(store: Store) -> AsyncIterator[Backend]:
    opened = backend_from_url(store.url)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()
