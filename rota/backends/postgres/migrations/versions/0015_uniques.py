"""Unique keys.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0015_uniques.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0015_uniques_down.sql")
