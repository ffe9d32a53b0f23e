"""RQ: ``rq worker --url redis://.../4``; the job is this module's ``probe``, by its path."""

from __future__ import annotations

from bench.defaults_apps import stamp

#: RQ keeps each finished job in this registry for 500 s, its default
FINISHED = "rq:finished:default"


def probe() -> None:
    stamp()
