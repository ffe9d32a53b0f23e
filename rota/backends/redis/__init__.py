"""The Redis store: ``redis://HOST:PORT/DB[?prefix=NAME&reader=URL]`` (see ``backend``)."""

from rota.backends.redis.backend import RedisBackend

__all__ = ["RedisBackend"]
