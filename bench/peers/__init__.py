"""The peers rota is measured beside, one module each.

On PostgreSQL: PgQueuer and Procrastinate; each module exposes ``async def run(dsn, *,
n_single, n_batched, n_drain, latency_samples, concurrency) -> dict[str, float]``.
On Redis: RQ, Celery, Dramatiq, arq, Huey and SAQ (``*_bench.py`` beside
``redis_common.py``); each exposes a synchronous ``run(*, n_single, n_batched, n_drain,
latency_samples, n_priority)``. ``python -m bench.peers [--redis]`` runs one set and prints
a table.
"""
