"""The PostgreSQL backend (``pip install 'rota[postgres]'``)."""

from rota.backends.postgres.backend import PostgresBackend

__all__ = ["PostgresBackend"]
