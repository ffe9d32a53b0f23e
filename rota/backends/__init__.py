"""Storage backends behind one protocol (:mod:`rota.backends.base`), chosen by URL scheme."""

from __future__ import annotations

import importlib
from typing import NamedTuple

from rota.backends.base import Backend, Capabilities
from rota.core.errors import ValidationError


class StoreEntry(NamedTuple):
    """Where a store's backend lives, and the extra that installs what it imports."""

    module: str
    cls: str
    extra: str | None


#: The one registry of stores, keyed by URL scheme. Each class has ``from_url(url)``.
STORES: dict[str, StoreEntry] = {
    "sqlite": StoreEntry("rota.backends.sqlite", "SQLiteBackend", None),
    "postgresql": StoreEntry("rota.backends.postgres", "PostgresBackend", "postgres"),
    "postgres": StoreEntry("rota.backends.postgres", "PostgresBackend", "postgres"),
    "redis": StoreEntry("rota.backends.redis", "RedisBackend", "redis"),
    "rediss": StoreEntry("rota.backends.redis", "RedisBackend", "redis"),
    "memory": StoreEntry("rota.backends.memory", "MemoryBackend", None),
}


def backend_from_url(url: str) -> Backend:
    """``sqlite:///path``, ``postgresql://...[?schema=NAME]``, ``redis://host:port/db
    [?prefix=NAME]``, ``memory://``."""
    scheme = url.partition(":")[0].lower()
    entry = STORES.get(scheme)
    if entry is None or ":" not in url:
        raise ValidationError(
            f"unsupported database URL {url!r}: use sqlite:///path/to/rota.db, "
            "postgresql://user@host/db, redis://host:6379/0 or memory://"
        )
    try:
        module = importlib.import_module(entry.module)
    except ImportError as exc:
        if entry.extra is None:
            raise
        raise ValidationError(
            f"the {scheme} store needs an extra: pip install 'rota[{entry.extra}]' ({exc})"
        ) from exc
    backend: Backend = getattr(module, entry.cls).from_url(url)
    return backend


__all__ = ["STORES", "Backend", "Capabilities", "backend_from_url"]
