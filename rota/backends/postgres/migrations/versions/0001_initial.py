"""The first schema: tasks, events, jobs.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0001_initial.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0001_initial_down.sql")
