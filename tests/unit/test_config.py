"""Settings: ROTA_ variables, and the foreign names honoured with a compatibility router."""

from __future__ import annotations

import pytest

from rota.config import Settings


def test_cd_names_are_honoured_with_the_cd_router(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ROTA_DATABASE_URL", "ROTA_SWEEP_INTERVAL", "ROTA_COMPAT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://cd@127.0.0.1/cd")
    monkeypatch.setenv("SWEEP_INTERVAL_SECONDS", "7")
    monkeypatch.setenv("SCHEDULER_TIMEOUT_SECONDS", "12")

    plain = Settings()  # another program's DATABASE_URL is not rota's
    assert plain.database_url == "sqlite:///./rota.db" and plain.sweep_interval == 1.0

    monkeypatch.setenv("ROTA_COMPAT", "dms, cd")
    with_cd = Settings()
    assert with_cd.database_url == "postgresql://cd@127.0.0.1/cd"
    assert (with_cd.sweep_interval, with_cd.cd_timeout_seconds) == (7.0, 12.0)
    assert Settings(compat="cd").database_url == "postgresql://cd@127.0.0.1/cd"

    monkeypatch.setenv("ROTA_DATABASE_URL", "sqlite:///rota-own.db")  # rota's own name wins
    assert Settings().database_url == "sqlite:///rota-own.db"
