"""The trace context a task carries from its submit to its run.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0019_task_trace.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0019_task_trace_down.sql")
