"""Where the real servers are, for the suites that need them.

PostgreSQL is ``ROTA_TEST_POSTGRES_URL`` and Redis ``ROTA_TEST_REDIS_URL`` (default: the
local servers). When one does not answer, its tests are skipped on a developer's machine
and fail under ``CI=true``.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator

import pytest

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@functools.cache
def postgres_url() -> str | None:
    """The test server's URL if it answers, else None."""
    url = os.environ.get("ROTA_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception:
        return None
    return url


def require_postgres() -> str:
    url = postgres_url()
    if url is None:
        where = os.environ.get("ROTA_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
        message = f"PostgreSQL at {where} does not answer (set ROTA_TEST_POSTGRES_URL)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    return url


def new_pg_schema() -> str:
    """A fresh, migrated schema on the test server; returns rota's URL for it."""
    from rota.backends.postgres.migrate import upgrade
    from rota.backends.postgres.url import PgUrl

    base = require_postgres()
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}schema=t_{uuid.uuid4().hex[:12]}"
    upgrade(PgUrl.parse(url))
    return url


def drop_pg_schema(url: str) -> None:
    import psycopg

    from rota.backends.postgres.url import PgUrl

    parsed = PgUrl.parse(url)
    with psycopg.connect(parsed.conninfo, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{parsed.schema}" CASCADE')


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema for one test, dropped afterwards."""
    url = new_pg_schema()
    try:
        yield url
    finally:
        drop_pg_schema(url)


DEFAULT_REDIS_URL = "redis://127.0.0.1:6379"
#: the database number of test stores, unless ROTA_TEST_REDIS_URL names one
REDIS_TEST_DB = 15


@functools.cache
def redis_url() -> str | None:
    """The test server's URL (with a database number) if it answers, else None."""
    from urllib.parse import urlsplit, urlunsplit

    url = os.environ.get("ROTA_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    parts = urlsplit(url)
    if parts.path.strip("/") == "":
        url = urlunsplit(parts._replace(path=f"/{REDIS_TEST_DB}"))
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
        try:
            client.ping()
        finally:
            client.close()
    except Exception:
        return None
    return url


def require_redis() -> str:
    url = redis_url()
    if url is None:
        where = os.environ.get("ROTA_TEST_REDIS_URL", DEFAULT_REDIS_URL)
        message = f"Redis at {where} does not answer (set ROTA_TEST_REDIS_URL)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    return url


def new_redis_store() -> str:
    """rota's URL for a fresh, empty namespace ``{t_<hex>}`` on the test database."""
    base = require_redis()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}prefix=t_{uuid.uuid4().hex[:12]}"


def redis_parts(url: str) -> tuple[str, str]:
    """The server URL redis-py takes, and the store's prefix."""
    from rota.backends.redis.url import RedisUrl

    parsed = RedisUrl.parse(url, env={})
    return parsed.writer, parsed.prefix


def drop_redis_store(url: str) -> None:
    """Delete every key of the store's namespace (SCAN MATCH ``{t_<hex>}:*`` + UNLINK)."""
    import redis

    server, prefix = redis_parts(url)
    client = redis.Redis.from_url(server)
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match="{" + prefix + "}:*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.unlink(*batch)
                batch.clear()
        if batch:
            client.unlink(*batch)
    finally:
        client.close()


@pytest.fixture
def redis_store_url() -> Iterator[str]:
    """A fresh Redis namespace for one test, deleted afterwards."""
    url = new_redis_store()
    try:
        yield url
    finally:
        drop_redis_store(url)
