"""Per-task retry policy, expiry of tasks never started, progress of a running attempt.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0002_retry_expiry_progress.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0002_retry_expiry_progress_down.sql")
