"""Alembic's entry point for rota's PostgreSQL migrations (run by ``rota db upgrade``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

config = context.config
url = config.get_main_option("sqlalchemy.url")
schema = config.get_main_option("rota.schema") or "rota"


def run_migrations() -> None:
    assert url is not None
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        connection.execute(text(f'SET search_path TO "{schema}"'))
        connection.commit()
        context.configure(
            connection=connection, version_table_schema=schema, transactional_ddl=True
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
