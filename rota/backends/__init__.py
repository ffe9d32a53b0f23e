"""Storage backends behind one protocol (:mod:`rota.backends.base`), chosen by URL."""

from __future__ import annotations

from rota.backends.base import Backend
from rota.core.errors import ValidationError


def backend_from_url(url: str) -> Backend:
    """``sqlite:///path``, ``postgresql://...[?schema=NAME]``, ``memory://``."""
    if url.startswith("sqlite:"):
        from rota.backends.sqlite import SQLiteBackend
        from rota.backends.sqlite.backend import path_from_url

        return SQLiteBackend(path_from_url(url))
    if url.startswith(("postgresql:", "postgres:")):
        try:
            from rota.backends.postgres import PostgresBackend
        except ImportError as exc:
            raise ValidationError(
                f"PostgreSQL needs an extra: pip install 'rota[postgres]' ({exc})"
            ) from exc
        return PostgresBackend(url)
    if url.startswith("memory:"):
        from rota.backends.memory import MemoryBackend

        return MemoryBackend()
    raise ValidationError(
        f"unsupported database URL {url!r}: use sqlite:///path/to/rota.db, "
        "postgresql://user@host/db or memory://"
    )


__all__ = ["Backend", "backend_from_url"]
