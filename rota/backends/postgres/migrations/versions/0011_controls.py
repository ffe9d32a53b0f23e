"""Operator controls (intake blocks).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0011_controls.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0011_controls_down.sql")
