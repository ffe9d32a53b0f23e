"""Constants the unit tests share."""

from __future__ import annotations

from datetime import UTC, datetime

T0 = datetime(2026, 1, 1, tzinfo=UTC)
