"""Dramatiq: ``dramatiq bench.defaults_apps.dramatiq_app`` with its Redis broker."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from bench.defaults_apps import redis_url, stamp

#: every message until it is acknowledged (after its actor returns)
MESSAGES = "dramatiq:default.msgs"

broker = RedisBroker(url=redis_url("dramatiq"))
dramatiq.set_broker(broker)


@dramatiq.actor(actor_name="probe")
def probe() -> None:
    stamp()
