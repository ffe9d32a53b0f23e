"""Settings from ``ROTA_*`` environment variables; every one is mirrored by a CLI flag."""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rota.core.errors import RotaError
from rota.core.retry import RetryPolicy

#: a KAT organisation: a rota tenant name whose scheduler id `normalizer-<org>` is a queue
#: name (rota.service.validation.check_name: at most 128 characters)
_ORG = r"[A-Za-z0-9][A-Za-z0-9._:/\-]{0,116}"


class Settings(BaseSettings):
    """Validated once when built; frozen so nothing changes them behind the service's back."""

    model_config = SettingsConfigDict(env_prefix="ROTA_", frozen=True, extra="ignore")

    database_url: str = "sqlite:///./rota.db"
    url: str = "http://127.0.0.1:8000"
    token: str | None = Field(
        None, description="the credential clients send; a server accepts it as an operator token"
    )
    tokens_file: str | None = Field(
        None, description='a JSON list of {"name", "role", "tenant"?, "secret" | "sha256"}'
    )
    compat: str = Field(
        "", description="foreign APIs to serve at their own paths, comma-separated: dms, cd, kat"
    )
    kat_schedulers: str = Field(
        "",
        description="the KAT schedulers the kat routes serve, comma-separated ids "
        "<type>-<org> (boefje-org1,normalizer-org1): each a rota queue of that name, tenant <org>",
    )
    kat_lease_seconds: float = Field(
        86_400.0,
        gt=0,
        description="how long a KAT pop leases its task: KAT's runners report only at the end "
        "(KAT's own stall rule is a day)",
    )
    dms_operator_token: str | None = Field(
        None,
        validation_alias=AliasChoices("ROTA_DMS_OPERATOR_TOKEN", "DMS_OPERATOR_TOKEN"),
        description="the operator token of the DMS routes (X-DMS-Operator-Token)",
    )
    cd_timeout_seconds: float = Field(
        30.0,
        gt=0,
        validation_alias=AliasChoices("ROTA_CD_TIMEOUT_SECONDS", "SCHEDULER_TIMEOUT_SECONDS"),
        description="the cd routes' job timeout (cd's SCHEDULER_TIMEOUT_SECONDS)",
    )
    anonymous_submit: bool = Field(
        False,
        description="callers with no token may submit (POST /tasks) at priority low or "
        "below, as DMS lets anyone (mid and high still need a token)",
    )
    insecure: bool = Field(
        False, description="serve a non-loopback address with no token configured (unsafe)"
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)

    lease_seconds: float = Field(30.0, gt=0, description="lease granted per claim/heartbeat")
    sweep_interval: float = Field(1.0, gt=0, description="how often expired leases are swept")
    poll_interval: float = Field(
        0.2, gt=0, description="long-poll re-check period when another process may enqueue"
    )
    default_max_attempts: int = Field(3, ge=1, le=100)
    retry_backoff: float = Field(1.0, ge=0, description="first retry delay; doubles per attempt")
    retry_backoff_max: float = Field(300.0, ge=0)
    queue_retry: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='per-queue retry policies, e.g. {"mail": {"backoff": "fixed", "delay": 5}}',
    )
    retention: float = Field(
        7 * 86_400.0,
        gt=0,
        description="seconds a finished task (succeeded, failed, canceled) and its history "
        "are kept after it finished",
    )
    queue_retention: dict[str, float] = Field(
        default_factory=dict, description='per-queue retention, e.g. {"ticks": 3600}'
    )

    @model_validator(mode="before")
    @classmethod
    def _cd_names(cls, data: Any) -> Any:
        """With the cd router mounted, cd's own variables are honoured where no ROTA_ one is
        set: ``DATABASE_URL`` and ``SWEEP_INTERVAL_SECONDS`` (``SCHEDULER_TIMEOUT_SECONDS``
        always is). Only then: many platforms set a DATABASE_URL meant for another program."""
        if not isinstance(data, dict):
            return data
        if "cd" not in {n.strip() for n in str(data.get("compat", "")).split(",")}:
            return data
        for field, name in (("database_url", "DATABASE_URL"),
                            ("sweep_interval", "SWEEP_INTERVAL_SECONDS")):  # fmt: skip
            if field not in data and name in os.environ:
                data = {**data, field: os.environ[name]}
        return data

    @field_validator("kat_schedulers")
    @classmethod
    def _kat_schedulers(cls, value: str) -> str:
        for scheduler_id in filter(None, (s.strip() for s in value.split(","))):
            kind, _, org = scheduler_id.partition("-")
            if kind not in ("boefje", "normalizer") or not re.fullmatch(_ORG, org):
                raise ValueError(
                    f"{scheduler_id!r} is not <type>-<organisation> with type boefje or "
                    "normalizer (e.g. boefje-org1)"
                )
        return value

    @field_validator("queue_retry")
    @classmethod
    def _policies(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for queue, policy in value.items():
            try:
                RetryPolicy.from_json(policy)
            except RotaError as exc:
                raise ValueError(f"queue {queue!r}: {exc}") from exc
        return value

    timeout_grace: float = Field(
        5.0, ge=0, description="the sweeper ends a run this long after its timeout passed"
    )
    worker_silence: float = Field(
        60.0,
        gt=0,
        description="a worker unheard of (no claim, heartbeat or registration) this long "
        "leaves the worker list",
    )


def redacted(url: str) -> str:
    """``url`` with any password hidden (``user:***@host``, ``password=***``), for banners
    and logs: a store's URL may carry its credentials."""
    parts = urlsplit(url)
    if parts.password is None and "password=" not in parts.query.lower():
        return url  # as given (urlunsplit would drop the empty host of sqlite:///)
    if parts.password is not None:
        user, _, host = parts.netloc.rpartition("@")
        name = user.partition(":")[0]
        parts = parts._replace(netloc=f"{name}:***@{host}")
    query = re.sub(r"(?i)(password=)[^&]*", r"\1***", parts.query)
    return urlunsplit(parts._replace(query=query))
