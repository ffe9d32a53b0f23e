"""KAT's task payloads, its identity hash, and rota tasks shown as mula's items and tasks.

A KAT item is a rota task: the queue and kind are the scheduler's (``boefje-org1``,
``boefje``), the tenant its organisation, the payload mula's ``data`` without its ``id``
(the id is the task's own: item id = task id = ``data.id``), the KAT priority ``p`` is
rota's ``(priority, rank)`` by :func:`rota.service.rankers.kat_priority` and read back from
the rank (the task's ``place``), and the unique key is :func:`identity_hash` of mula's
identity string.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from rota.core.ids import new_id
from rota.core.models import BLOCKED_AT, Task
from rota.core.states import TaskState

Kind = Literal["boefje", "normalizer"]
#: mula's priority column is a 32-bit integer; KAT counts 1 as its most urgent
KAT_PRIORITY_MAX = 2**31 - 1
#: what the router keeps in a running task's progress once its runner said "running"
RUNNING_MARK = {"kat_status": "running"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Plugin(_Model):
    id: str = Field(min_length=1, max_length=256)
    name: str | None = None
    version: str | None = None


class BoefjeTask(_Model):
    id: UUID = Field(default_factory=uuid4)
    boefje: Plugin
    input_ooi: str | None
    organization: str = Field(min_length=1, max_length=256)
    dispatches: list[Plugin] = Field(default_factory=list)


class BoefjeMeta(_Model):
    id: UUID
    boefje: Plugin
    input_ooi: str | None
    arguments: dict[str, Any] = Field(default_factory=dict)
    organization: str = Field(min_length=1, max_length=256)
    started_at: datetime | None
    ended_at: datetime | None


class RawData(_Model):
    id: UUID
    boefje_meta: BoefjeMeta
    mime_types: list[dict[str, str]]
    secure_hash: str | None
    hash_retrieval_link: str | None


class NormalizerTask(_Model):
    id: UUID = Field(default_factory=uuid4)
    normalizer: Plugin
    raw_data: RawData


MODELS: dict[str, type[BoefjeTask] | type[NormalizerTask]] = {
    "boefje": BoefjeTask,
    "normalizer": NormalizerTask,
}
ITEM_TYPES = {"boefje": "BoefjeTask", "normalizer": "NormalizerTask"}


class Malformed(ValueError):
    """Data that is not a valid BoefjeTask / NormalizerTask (mula answered 500; rota 400)."""


def validated(kind: str, data: Any) -> tuple[str, dict[str, Any]]:
    """``data`` checked as mula's task of ``kind``: its id and its payload (mula's stored
    form, without the id and without keys mula drops, such as ``type``)."""
    if not isinstance(data, dict):
        raise Malformed("data must be an object")
    if data.get("id") is None:  # absent (rocky strips it) or null (mula would fail): made
        # here, time-sortable (UUIDv7), so that equal priorities stay in push order on
        # every store, Redis included (whose ties go by task id)
        data = {**data, "id": new_id()}
    try:
        made = MODELS[kind].model_validate(data)
    except PydanticError as exc:
        raise Malformed(str(exc).splitlines()[0] + ": " + _first_error(exc)) from None
    dumped = made.model_dump(mode="json")
    task_id = dumped.pop("id")
    return task_id, dumped


def _first_error(exc: PydanticError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "data"
    return f"{where}: {err.get('msg', 'invalid')}"


def organisation(kind: str, payload: dict[str, Any]) -> str | None:
    if kind == "boefje":
        org = payload.get("organization")
    else:
        org = ((payload.get("raw_data") or {}).get("boefje_meta") or {}).get("organization")
    return org if isinstance(org, str) else None


def identity(kind: str, payload: dict[str, Any]) -> str:
    """mula's queue identity string (``create_hash``'s input, §3.2 of the notes)."""
    if kind == "boefje":
        boefje = payload.get("boefje") or {}
        return f"{payload.get('input_ooi')}-{boefje.get('id')}-{payload.get('organization')}"
    meta = (payload.get("raw_data") or {}).get("boefje_meta") or {}
    normalizer = payload.get("normalizer") or {}
    return f"{normalizer.get('id')}-{meta.get('id')}-{meta.get('organization')}"


def identity_hash(kind: str, payload: dict[str, Any]) -> str:
    """32 lowercase hex characters as mula's hash, from BLAKE2b (16-byte digest) instead of
    MurmurHash3: a standard-library hash; no client compares it with one of its own."""
    text = identity(kind, payload).encode("utf-8", "replace")
    return hashlib.blake2b(text, digest_size=16).hexdigest()


def kat_priority_of(task: Task) -> int:
    """A task's KAT priority, read back from its rank (stored as its place)."""
    return int(task.place)


def status(task: Task) -> str:
    state = task.state
    if state is TaskState.QUEUED:
        return "queued"
    if state is TaskState.SCHEDULED:
        return "pending" if task.run_at == BLOCKED_AT else "queued"
    if state is TaskState.RUNNING:
        return "running" if _marked(task.progress) else "dispatched"
    if state is TaskState.SUCCEEDED:
        return "completed"
    if state is TaskState.FAILED:
        return "failed"
    return "cancelled"


def _marked(progress: Any) -> bool:
    return isinstance(progress, dict) and progress.get("kat_status") == "running"


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def modified_at(task: Task) -> datetime:
    return task.finished_at or task.started_at or task.created_at


def item_json(task: Task) -> dict[str, Any]:
    """The task as mula's PrioritizedItem."""
    return {
        "id": task.id,
        "scheduler_id": task.queue,
        "hash": identity_hash(task.kind, task.payload),
        "priority": kat_priority_of(task),
        "data": {"id": task.id, **task.payload},
        "created_at": timestamp(task.created_at),
        "modified_at": timestamp(modified_at(task)),
    }


def task_json(task: Task) -> dict[str, Any]:
    """The task as mula's Task (``p_item`` as it is now, not a push-time snapshot)."""
    return {
        "id": task.id,
        "scheduler_id": task.queue,
        "type": task.kind,
        "p_item": item_json(task),
        "status": status(task),
        "created_at": timestamp(task.created_at),
        "modified_at": timestamp(modified_at(task)),
    }


@dataclass(frozen=True, slots=True)
class Scheduler:
    """One configured KAT scheduler: its id is its rota queue's name."""

    id: str
    kind: Kind
    org: str

    @classmethod
    def parse(cls, scheduler_id: str) -> Scheduler:
        kind, _, org = scheduler_id.partition("-")
        assert kind in ("boefje", "normalizer") and org  # Settings checked it
        return cls(scheduler_id, kind, org)  # type: ignore[arg-type]
