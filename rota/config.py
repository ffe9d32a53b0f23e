"""Settings from ``ROTA_*`` environment variables; every one is mirrored by a CLI flag.

A frozen dataclass rather than a pydantic-settings model: every ``rota`` command and every
worker reads these at start, and pydantic-settings took ~90 ms of a worker's ~0.3 s
start (issue 18, "a worker loads only what it uses"). The rules stay declared on each
field (``_setting``: help, bounds, extra variable names); ``__post_init__`` applies them
to values from anywhere, so ``Settings(port="8000")`` and ``ROTA_PORT=8000`` are one path.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from rota.core.errors import RotaError, ValidationError
from rota.core.retry import RetryPolicy

PREFIX = "ROTA_"
#: a KAT organisation: a rota tenant name whose scheduler id `normalizer-<org>` is a queue
#: name (rota.service.validation.check_name: at most 128 characters)
_ORG = r"[A-Za-z0-9][A-Za-z0-9._:/\-]{0,116}"
_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}


def _setting(
    default: Any = None,
    help: str = "",
    *,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
    env: tuple[str, ...] = (),
    factory: Callable[[], Any] | None = None,
    secret: bool = False,
) -> Any:
    """A field with its rules: ``env`` names the variables read (default ``ROTA_<NAME>``),
    first found wins; a ``secret`` stays out of the repr (and so out of logs and errors)."""
    meta = {"help": help, "gt": gt, "ge": ge, "le": le, "env": env}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta, repr=not secret)


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    """Validated once when built; frozen so nothing changes them behind the service's back.

    ``Settings(...)`` takes the defaults and what it is given; ``Settings.load(...)`` reads
    the environment first (what every command and a default ``Service`` use).
    """

    database_url: str = "sqlite:///./rota.db"
    url: str = "http://127.0.0.1:8000"
    token: str | None = _setting(
        None,
        "the credential clients send; a server accepts it as an operator token",
        secret=True,
    )
    tokens_file: str | None = _setting(
        None, 'a JSON list of {"name", "role", "tenant"?, "secret" | "sha256"}'
    )
    compat: str = _setting(
        "", "foreign APIs to serve at their own paths, comma-separated: dms, cd, kat"
    )
    kat_schedulers: str = _setting(
        "",
        "the KAT schedulers the kat routes serve, comma-separated ids <type>-<org> "
        "(boefje-org1,normalizer-org1): each a rota queue of that name, tenant <org>",
    )
    kat_lease_seconds: float = _setting(
        86_400.0,
        "how long a KAT pop leases its task: KAT's runners report only at the end "
        "(KAT's own stall rule is a day)",
        gt=0,
    )
    dms_operator_token: str | None = _setting(
        None,
        "the operator token of the DMS routes (X-DMS-Operator-Token)",
        env=("ROTA_DMS_OPERATOR_TOKEN", "DMS_OPERATOR_TOKEN"),
        secret=True,
    )
    cd_timeout_seconds: float = _setting(
        30.0,
        "the cd routes' job timeout (cd's SCHEDULER_TIMEOUT_SECONDS)",
        gt=0,
        env=("ROTA_CD_TIMEOUT_SECONDS", "SCHEDULER_TIMEOUT_SECONDS"),
    )
    anonymous_submit: bool = _setting(
        False,
        "callers with no token may submit (POST /tasks) at priority low or below, as DMS "
        "lets anyone (mid and high still need a token)",
    )
    insecure: bool = _setting(
        False, "serve a non-loopback address with no token configured (unsafe)"
    )
    host: str = "127.0.0.1"
    port: int = _setting(8000, ge=1, le=65535)

    lease_seconds: float = _setting(30.0, "lease granted per claim/heartbeat", gt=0)
    sweep_interval: float = _setting(1.0, "how often expired leases are swept", gt=0)
    poll_interval: float = _setting(
        0.2, "long-poll re-check period when another process may enqueue", gt=0
    )
    default_max_attempts: int = _setting(3, ge=1, le=100)
    retry_backoff: float = _setting(1.0, "first retry delay; doubles per attempt", ge=0)
    retry_backoff_max: float = _setting(300.0, ge=0)
    queue_retry: dict[str, dict[str, Any]] = _setting(
        help='per-queue retry policies, e.g. {"mail": {"backoff": "fixed", "delay": 5}}',
        factory=dict,
    )
    retention: float = _setting(
        7 * 86_400.0,
        "seconds a finished task (succeeded, failed, canceled) and its history are kept "
        "after it finished",
        gt=0,
    )
    queue_retention: dict[str, float] = _setting(
        help='per-queue retention, e.g. {"ticks": 3600}', factory=dict
    )
    timeout_grace: float = _setting(
        5.0, "the sweeper ends a run this long after its timeout passed", ge=0
    )
    worker_silence: float = _setting(
        60.0,
        "a worker unheard of (no claim, heartbeat or registration) this long leaves the "
        "worker list",
        gt=0,
    )

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            value = _coerce(spec, getattr(self, spec.name))
            object.__setattr__(self, spec.name, value)
        _check_kat_schedulers(self.kat_schedulers)
        _check_policies(self.queue_retry)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **given: Any) -> Settings:
        """The environment's ``ROTA_*`` values (names case-insensitive), under what is given.

        With the cd router mounted (``compat`` names ``cd``), cd's own ``DATABASE_URL`` and
        ``SWEEP_INTERVAL_SECONDS`` are honoured where no ROTA_ one is set. Only then: many
        platforms set a DATABASE_URL meant for another program.
        """
        env = {k.upper(): v for k, v in (os.environ if environ is None else environ).items()}
        values: dict[str, Any] = {}
        for spec in dataclasses.fields(cls):
            for name in spec.metadata.get("env") or (PREFIX + spec.name.upper(),):
                if name in env:
                    values[spec.name] = env[name]
                    break
        values.update(given)
        if "cd" in {n.strip() for n in str(values.get("compat", "")).split(",")}:
            for name, cd_name in (("database_url", "DATABASE_URL"),
                                  ("sweep_interval", "SWEEP_INTERVAL_SECONDS")):  # fmt: skip
                if name not in values and cd_name in env:
                    values[name] = env[cd_name]
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _variable(spec: dataclasses.Field[Any]) -> str:
    return (spec.metadata.get("env") or (PREFIX + spec.name.upper(),))[0]


def _coerce(spec: dataclasses.Field[Any], value: Any) -> Any:
    """``value`` as the field's type (strings parsed as the environment gives them), within
    its bounds; a ValidationError naming the setting and its variable otherwise."""
    kind = str(spec.type)
    where = f"setting {spec.name} ({_variable(spec)})"
    try:
        if kind == "str":
            parsed = value if isinstance(value, str) else _refuse("a string")
        elif kind == "str | None":
            parsed = value if value is None or isinstance(value, str) else _refuse("a string")
        elif kind == "bool":
            parsed = _boolean(value)
        elif kind in ("int", "float"):
            parsed = _number(value, int if kind == "int" else float)
        else:  # the dicts: JSON in the environment
            parsed = _mapping(_json(value) if isinstance(value, str) else value, kind)
    except ValueError as exc:
        raise ValidationError(f"{where}: {value!r} {exc}") from None
    meta = spec.metadata
    for bound, holds, says in (("gt", float.__gt__, ">"), ("ge", float.__ge__, ">="),
                               ("le", float.__le__, "<=")):  # fmt: skip
        limit = meta.get(bound)
        if limit is not None and not holds(float(parsed), float(limit)):
            raise ValidationError(f"{where}: {parsed!r} must be {says} {limit:g}")
    return parsed


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"is not JSON ({exc})") from None


def _refuse(what: str) -> Any:
    raise ValueError(f"is not {what}")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError("is not a boolean: use true or false (1/0, yes/no, on/off)")


def _number(value: Any, kind: type[int] | type[float]) -> int | float:
    if isinstance(value, bool):
        raise ValueError("is not a number")
    if isinstance(value, int | float) and (kind is float or float(value).is_integer()):
        return kind(value)
    if isinstance(value, str):
        try:
            return kind(value.strip())
        except ValueError:
            pass
    raise ValueError("is not an integer" if kind is int else "is not a number")


def _mapping(value: Any, kind: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("is not a JSON object")
    if kind == "dict[str, float]":
        return {str(k): float(_number(v, float)) for k, v in value.items()}
    if not all(isinstance(v, dict) for v in value.values()):
        raise ValueError("is not a JSON object of objects")
    return dict(value)


def _check_kat_schedulers(value: str) -> None:
    for scheduler_id in filter(None, (s.strip() for s in value.split(","))):
        kind, _, org = scheduler_id.partition("-")
        if kind not in ("boefje", "normalizer") or not re.fullmatch(_ORG, org):
            raise ValidationError(
                f"setting kat_schedulers (ROTA_KAT_SCHEDULERS): {scheduler_id!r} is not "
                "<type>-<organisation> with type boefje or normalizer (e.g. boefje-org1)"
            )


def _check_policies(value: dict[str, dict[str, Any]]) -> None:
    for queue, policy in value.items():
        try:
            RetryPolicy.from_json(policy)
        except RotaError as exc:
            raise ValidationError(
                f"setting queue_retry (ROTA_QUEUE_RETRY): queue {queue!r}: {exc}"
            ) from None


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
