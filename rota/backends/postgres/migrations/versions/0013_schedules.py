"""Schedules.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0013_schedules.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0013_schedules_down.sql")
