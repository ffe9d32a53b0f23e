"""Celery: ``celery -A bench.defaults_apps.celery_app worker``, Redis broker, no result backend
(its default): a task is acknowledged when a pool process takes it (``acks_late`` off)."""

from __future__ import annotations

from celery import Celery

from bench.defaults_apps import redis_url, stamp

QUEUE = "celery"

app = Celery("bench-defaults", broker=redis_url("celery"))


@app.task(name="probe")
def probe() -> None:
    stamp()
