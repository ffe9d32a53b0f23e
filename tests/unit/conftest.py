"""A Service over the memory backend with a hand-moved clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rota.backends.memory import MemoryBackend
from rota.config import Settings
from rota.core.clock import ManualClock
from rota.service import Service
from tests.unit.helpers import T0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def settings() -> Settings:
    return Settings(
        lease_seconds=30.0, retry_backoff=2.0, retry_backoff_max=60.0, default_max_attempts=3
    )


@pytest.fixture
async def service(settings: Settings, clock: ManualClock) -> AsyncIterator[Service]:
    svc = Service(MemoryBackend(), settings, clock)
    await svc.open()
    try:
        yield svc
    finally:
        await svc.close()
