"""A fair enqueue in one statement: rota_fair_places gives the places inside the insert.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0021_fair_insert_function.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0021_fair_insert_function_down.sql")
