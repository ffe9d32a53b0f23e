"""Job dependencies.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0018_job_needs.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0018_job_needs_down.sql")
