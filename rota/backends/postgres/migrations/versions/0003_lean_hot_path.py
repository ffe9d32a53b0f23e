"""A leaner hot path: no stored events for an attempt that succeeds, one index fewer.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0003_lean_hot_path.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0003_lean_hot_path_down.sql")
