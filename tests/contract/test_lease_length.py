"""A lease length per claim and per heartbeat (a compat router's clients that report only at
the end: KAT's pop), on every store; the server's ``lease_seconds`` otherwise."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rota.backends import Backend
from rota.core.clock import ManualClock
from rota.core.errors import ValidationError
from rota.core.limits import MAX_LEASE_SECONDS
from rota.service import Service, TaskSpec
from tests.api.conftest import make_settings
from tests.contract.helpers import T0


async def test_a_claim_and_a_heartbeat_lease_for_as_long_as_asked(backend: Backend) -> None:
    clock = ManualClock(T0)
    service = Service(backend, make_settings(), clock=clock)
    await service.enqueue_many([TaskSpec("scan", queue="kat")] * 2)

    (short,) = await service.claim("w", queues=["kat"])
    (long,) = await service.claim("w", queues=["kat"], lease_seconds=86_400)
    default = timedelta(seconds=service.settings.lease_seconds)
    assert short.lease_expires_at == T0 + default
    assert long.lease_expires_at == T0 + timedelta(days=1)

    clock.advance(60)  # past the default lease, inside the long one
    beat = await service.heartbeat(long.id, long.lease_token, lease_seconds=7_200)
    assert beat.lease_expires_at == T0 + timedelta(seconds=60 + 7_200)


@pytest.mark.parametrize("seconds", [0, -1, MAX_LEASE_SECONDS + 1])
async def test_a_lease_out_of_bounds_is_refused_before_anything_is_claimed(
    backend: Backend, seconds: float
) -> None:
    service = Service(backend, make_settings(), clock=ManualClock(T0))
    await service.enqueue(TaskSpec("scan", queue="kat"))
    with pytest.raises(ValidationError, match="a lease must be"):
        await service.claim("w", queues=["kat"], lease_seconds=seconds)
    assert len(await service.claim("w", queues=["kat"])) == 1  # still there to claim
