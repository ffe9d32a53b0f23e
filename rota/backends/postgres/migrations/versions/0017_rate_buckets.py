"""Rate limit buckets.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from rota.backends.postgres.migrate import run_sql_file

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__, "0017_rate_buckets.sql")


def downgrade() -> None:
    run_sql_file(__file__, "0017_rate_buckets_down.sql")
