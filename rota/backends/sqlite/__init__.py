"""The embedded SQLite backend (the default): one file, WAL, durable commits."""

from rota.backends.sqlite.backend import SQLiteBackend

__all__ = ["SQLiteBackend"]
