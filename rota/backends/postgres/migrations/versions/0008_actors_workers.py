"""Actors in history, the worker registry, and the index of running tasks with a timeout.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0008_actors_workers.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0008_actors_workers_down.sql")
