"""Settings: ROTA_ variables, and the foreign names honoured with a compatibility router."""

from __future__ import annotations

import pytest

from rota.config import Settings
from rota.core.errors import ValidationError


def test_cd_names_are_honoured_with_the_cd_router(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ROTA_DATABASE_URL", "ROTA_SWEEP_INTERVAL", "ROTA_COMPAT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://cd@127.0.0.1/cd")
    monkeypatch.setenv("SWEEP_INTERVAL_SECONDS", "7")
    monkeypatch.setenv("SCHEDULER_TIMEOUT_SECONDS", "12")

    plain = Settings.load()  # another program's DATABASE_URL is not rota's
    assert plain.database_url == "sqlite:///./rota.db" and plain.sweep_interval == 1.0

    monkeypatch.setenv("ROTA_COMPAT", "dms, cd")
    with_cd = Settings.load()
    assert with_cd.database_url == "postgresql://cd@127.0.0.1/cd"
    assert (with_cd.sweep_interval, with_cd.cd_timeout_seconds) == (7.0, 12.0)
    assert Settings.load(compat="cd").database_url == "postgresql://cd@127.0.0.1/cd"

    monkeypatch.setenv("ROTA_DATABASE_URL", "sqlite:///rota-own.db")  # rota's own name wins
    assert Settings.load().database_url == "sqlite:///rota-own.db"


def test_the_environment_is_parsed_by_each_settings_type() -> None:
    env = {
        "ROTA_PORT": "9000",
        "rota_lease_seconds": "2.5",  # names are case-insensitive
        "ROTA_INSECURE": "yes",
        "ROTA_TOKEN": "",
        "ROTA_QUEUE_RETRY": '{"mail": {"backoff": "fixed", "delay": 5}}',
        "ROTA_QUEUE_RETENTION": '{"ticks": 3600}',
        "DMS_OPERATOR_TOKEN": "dms-secret",
    }
    got = Settings.load(env)
    assert (got.port, got.lease_seconds, got.insecure, got.token) == (9000, 2.5, True, "")
    assert got.queue_retry == {"mail": {"backoff": "fixed", "delay": 5}}
    assert got.queue_retention == {"ticks": 3600.0}
    assert got.dms_operator_token == "dms-secret"
    # what the command line gives wins over the environment
    assert Settings.load(env, port=8001).port == 8001
    # Settings() alone is the defaults: the environment is read only by load()
    assert Settings().port == 8000


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"ROTA_PORT": "eighty"}, "setting port (ROTA_PORT): 'eighty' is not an integer"),
        ({"ROTA_PORT": "70000"}, "setting port (ROTA_PORT): 70000 must be <= 65535"),
        ({"ROTA_LEASE_SECONDS": "0"}, "(ROTA_LEASE_SECONDS): 0.0 must be > 0"),
        ({"ROTA_RETRY_BACKOFF": "soon"}, "(ROTA_RETRY_BACKOFF): 'soon' is not a number"),
        ({"ROTA_INSECURE": "maybe"}, "'maybe' is not a boolean: use true or false"),
        ({"ROTA_QUEUE_RETRY": "{mail"}, "(ROTA_QUEUE_RETRY): '{mail' is not JSON"),
        ({"ROTA_QUEUE_RETRY": "[1]"}, "'[1]' is not a JSON object"),
        ({"ROTA_QUEUE_RETRY": '{"mail": {"backoff": "never"}}'}, "queue 'mail': retry.backoff"),
        ({"ROTA_QUEUE_RETENTION": '{"ticks": "an hour"}'}, "is not a number"),
        ({"ROTA_KAT_SCHEDULERS": "boefje-"}, "'boefje-' is not <type>-<organisation>"),
    ],
)
def test_a_bad_value_names_its_variable_and_what_to_fix(env: dict[str, str], says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings.load(env)
    assert says in str(caught.value)


def test_a_bad_keyword_is_refused_as_the_environment_is() -> None:
    with pytest.raises(ValidationError, match=r"setting default_max_attempts .* must be >= 1"):
        Settings(default_max_attempts=0)
    with pytest.raises(ValidationError, match=r"setting token .* is not a string"):
        Settings(token=123)  # type: ignore[arg-type]


def test_secrets_stay_out_of_the_repr() -> None:
    settings = Settings(token="operator-secret-value", dms_operator_token="dms-secret-value")
    shown = repr(settings)
    assert "secret-value" not in shown and "lease_seconds=30.0" in shown


def test_settings_are_frozen_and_replace_checks_again() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]
    assert settings.replace(compat="dms").compat == "dms"
    with pytest.raises(ValidationError):
        settings.replace(port=0)
