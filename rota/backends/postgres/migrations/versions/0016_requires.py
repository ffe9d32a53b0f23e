"""Routing by capabilities.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0016_requires.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0016_requires_down.sql")
