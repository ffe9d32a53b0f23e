"""The parts of ``bench.bench_defaults``: the phases (``harness``), rota's rows
(``rota_systems``), the peers (``peers``) and the printed tables (``report``)."""
