"""Migrations: applying every one on an empty schema gives exactly the reference schema,
and servers refuse a schema that is older or newer than the code."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from rota.backends.postgres import PostgresBackend
from rota.backends.postgres.migrate import HEAD, head_revision
from rota.backends.postgres.url import PgUrl
from rota.core.errors import SchemaMismatch
from tests.conftest import drop_pg_schema, require_postgres

REFERENCE = Path(__file__).parents[2] / "rota" / "backends" / "postgres" / "schema.sql"

CATALOG = {
    "columns": """
        SELECT table_name, column_name, data_type, is_nullable, column_default,
               is_identity, identity_generation
        FROM information_schema.columns WHERE table_schema = %(s)s AND table_name LIKE 'rota%%'
        ORDER BY 1, 2""",
    "indexes": """
        SELECT tablename, indexname, replace(indexdef, %(s)s || '.', '')
        FROM pg_indexes WHERE schemaname = %(s)s AND tablename LIKE 'rota%%' ORDER BY 1, 2""",
    "sequences": """
        SELECT sequence_name, data_type, start_value, increment
        FROM information_schema.sequences WHERE sequence_schema = %(s)s ORDER BY 1""",
    "constraints": """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
        FROM pg_constraint WHERE connamespace = %(s)s::regnamespace
          AND conrelid::regclass::text NOT LIKE '%%alembic_version' ORDER BY 1, 2""",
    "triggers": """
        SELECT event_object_table, trigger_name, event_manipulation, action_timing,
               action_orientation, action_statement
        FROM information_schema.triggers WHERE trigger_schema = %(s)s ORDER BY 1, 2""",
    "functions": """
        SELECT proname, prosrc FROM pg_proc WHERE pronamespace = %(s)s::regnamespace
        ORDER BY 1""",
}


def catalog(conninfo: str, schema: str) -> dict[str, list[tuple[object, ...]]]:
    with psycopg.connect(conninfo) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        out = {}
        for name, sql in CATALOG.items():
            rows = conn.execute(sql, {"s": schema}).fetchall()  # type: ignore[arg-type]
            out[name] = [tuple(str(v).replace(f"{schema}.", "") for v in r) for r in rows]
        return out


@pytest.fixture
def schemas() -> Iterator[tuple[str, str]]:
    base = require_postgres()
    sep = "&" if "?" in base else "?"
    names = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    urls = [f"{base}{sep}schema={n}" for n in names]
    try:
        yield urls[0], urls[1]
    finally:
        for url in urls:
            drop_pg_schema(url)


def test_every_migration_applied_equals_the_reference_schema(schemas: tuple[str, str]) -> None:
    migrated, reference = (PgUrl.parse(u) for u in schemas)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "rota"), "db", "upgrade", "--database-url", schemas[0]],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert head_revision() in done.stdout.decode()
    with psycopg.connect(reference.conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{reference.schema}"')
        conn.execute(f'SET search_path TO "{reference.schema}"')
        conn.execute(REFERENCE.read_text())  # type: ignore[arg-type]
    got = catalog(migrated.conninfo, migrated.schema)
    want = catalog(reference.conninfo, reference.schema)
    assert got["columns"], "the migrated schema has no rota tables"
    for part in CATALOG:
        assert got[part] == want[part], part


def test_the_revision_servers_require_is_alembics_head() -> None:
    assert head_revision() == HEAD


def test_opening_a_backend_leaves_alembic_unloaded(schemas: tuple[str, str]) -> None:
    """Alembic (with SQLAlchemy) is for `rota db upgrade` only: a server, worker or producer
    that loaded it to check the schema carried 38,000 more objects for its whole life."""
    from rota.backends.postgres.migrate import upgrade

    upgrade(PgUrl.parse(schemas[0]))
    probe = (
        "import asyncio, sys\n"
        "from rota.backends.postgres import PostgresBackend\n"
        "async def main():\n"
        "    backend = PostgresBackend(sys.argv[1])\n"
        "    await backend.open()\n"
        "    await backend.close()\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in ('alembic', 'sqlalchemy') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, schemas[0]], capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().strip() == "[]"


async def test_backend_refuses_a_schema_that_was_never_migrated(schemas: tuple[str, str]) -> None:
    backend = PostgresBackend(schemas[0])
    with pytest.raises(SchemaMismatch, match="rota db upgrade"):
        await backend.open()


async def test_backend_refuses_a_newer_schema(schemas: tuple[str, str]) -> None:
    from rota.backends.postgres.migrate import upgrade

    url = PgUrl.parse(schemas[0])
    upgrade(url)
    with psycopg.connect(url.conninfo, autocommit=True) as conn:
        conn.execute(f'UPDATE "{url.schema}".alembic_version SET version_num = %s', ["9999"])
    backend = PostgresBackend(url)
    with pytest.raises(SchemaMismatch, match="upgrade rota"):
        await backend.open()


def test_serve_exits_with_what_to_run_on_an_old_schema(schemas: tuple[str, str]) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "rota"), "serve", "--port", "1"],
        env={"ROTA_DATABASE_URL": schemas[0], "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=60,
    )
    output = done.stdout.decode() + done.stderr.decode()
    assert done.returncode != 0
    assert "rota db upgrade" in output
