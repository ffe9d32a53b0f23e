"""PgQueuer and Procrastinate on the same PostgreSQL, for comparison with rota.

Each module exposes ``async def run(dsn, *, n_single, n_batched, n_drain, latency_samples,
concurrency) -> dict[str, float]``; ``python -m bench.peers`` runs both and prints a table.
"""
