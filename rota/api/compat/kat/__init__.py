"""KAT's scheduler ("mula") API at its own paths, as of its v1.14.0 (end of 2023), so
KAT's front end (rocky) and its runners (boefjes) can point at rota unchanged.

Mounted with ``ROTA_COMPAT=kat``; the schedulers are ``ROTA_KAT_SCHEDULERS``. It
translates and decides nothing (DESIGN.md): each scheduler is a rota queue and tenant
(:mod:`.schedulers`), each item a rota task (:mod:`.items`), a pop a rota claim, a status
report a heartbeat, completion, failure or cancel through the Service. docs/kat.md says
what is the same as mula and what rota does differently.
"""

from __future__ import annotations

from . import tasks as _tasks  # noqa: F401  (its routes join the router)
from .queues import router
from .schedulers import startup

__all__ = ["router", "startup"]
