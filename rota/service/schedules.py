"""Schedules: tasks made from a template at the times a rule names.

A schedule is a rule (:mod:`rota.core.recurrence`: cron, RFC 5545 rule, interval or one
time, in an IANA zone), a task template, and three policies:

- **catch-up**, for occurrences missed while nothing evaluated schedules (every replica
  down, or the leader gone): ``skip`` (the default) runs none of them, ``once`` runs one
  for all of them (the latest), ``all`` runs each, the latest :data:`MAX_CATCH_UP` at most.
  An occurrence is missed when it is found more than :data:`GRACE_SECONDS` after its time;
  one found within that is on time and always runs (a leader's hand-over stays on time).
- **overlap**, while the previous occurrence's task is still waiting or running: ``allow``
  another, ``skip`` this occurrence, or ``replace`` the previous (cancel it).
- **deadline**: an occurrence's task not started within that many seconds of its time is
  not run; it ends canceled with the expiry's reason (the store's expiry, ``expires_at``).

Exactly one task per occurrence, across replicas and restarts: the task's id is made of
the schedule and the occurrence's time (:func:`occurrence_id`), and a store never holds two
tasks of one id, so whichever replica inserts it first wins and a second insert is a
duplicate that changes nothing. The schedule's own advance is a compare-and-set on its
version. So the leader evaluates schedules for efficiency, not for correctness; and it
reads only the due ones (``schedule_list_due``, an index on ``next_run_at``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import orjson

from rota.core import limits
from rota.core.errors import (
    Conflict,
    DuplicateTask,
    IllegalTransition,
    IntakeBlocked,
    NotFound,
    RotaError,
    ValidationError,
)
from rota.core.ids import new_id
from rota.core.models import ScheduleRecord, Task
from rota.core.recurrence import Recurrence, zone
from rota.core.states import WAITING_STATES, TaskState
from rota.service.validation import TaskSpec, build_task, check_name

if TYPE_CHECKING:
    from rota.backends import Backend
    from rota.service.service import Service

log = logging.getLogger("rota.schedules")
CatchUp = Literal["skip", "once", "all"]
Overlap = Literal["allow", "skip", "replace"]
#: an occurrence found later than this after its time was missed (see catch-up)
GRACE_SECONDS = 2.0
#: the most missed occurrences ``all`` runs (the latest ones)
MAX_CATCH_UP = 1000
#: how late an occurrence is before a replica that does not lead makes its task
FOLLOWER_LAG = 1.0
#: how many schedules one evaluation round reads at most
BATCH = 1000
#: the fields of a task template (TaskSpec's, but those an occurrence sets itself)
TEMPLATE_FIELDS = ("kind", "payload", "queue", "priority", "max_attempts", "timeout", "tenant",
                   "retry", "ranker")  # fmt: skip
#: the template fields a task takes as they are (a ranker computes the priority instead)
_SPEC_FIELDS = tuple(f for f in TEMPLATE_FIELDS if f != "ranker")
OCCURRENCE_PREFIX = _PREFIX = "sch:"
_UNFINISHED = WAITING_STATES | {TaskState.RUNNING}


def occurrence_id(schedule_id: str, at: datetime) -> str:
    """The id of the one task of an occurrence: ``sch:<schedule>:<unix seconds>``."""
    return f"{_PREFIX}{schedule_id}:{int(at.timestamp())}"


def parse_occurrence_id(task_id: str) -> tuple[str, datetime] | None:
    """(schedule id, scheduled time) of a task a schedule made; None for any other."""
    if not task_id.startswith(_PREFIX):
        return None
    schedule_id, _, seconds = task_id[len(_PREFIX) :].rpartition(":")
    if not schedule_id or not seconds.isdigit():
        return None
    return schedule_id, datetime.fromtimestamp(int(seconds), UTC)


def template_id(template: dict[str, Any]) -> str:
    """A schedule's id from its task template: the same template, the same id."""
    canonical = orjson.dumps(template, option=orjson.OPT_SORT_KEYS)
    return "tpl-" + hashlib.sha256(canonical).hexdigest()[:32]


def rule_of(
    definition: dict[str, Any], created_at: datetime, anchor: datetime | None = None
) -> Recurrence:
    """A definition's rule: checked whole when new (no ``anchor``); when stored, restarting
    at its next run. It starts when the definition was last set, else at creation."""
    rule = definition["rule"]
    start = datetime.fromisoformat(definition.get("start") or created_at.isoformat())
    tz = zone(definition["timezone"])
    if anchor is None:
        return Recurrence.parse(rule["kind"], rule["expr"], tz, start)
    return Recurrence.load(rule["kind"], rule["expr"], tz, start, anchor)


class Schedules:
    def __init__(self, service: Service) -> None:
        self.service = service

    @property
    def _backend(self) -> Backend:
        return self.service.backend

    # -- definitions ------------------------------------------------------------------------

    def check(
        self, definition: dict[str, Any], created_at: datetime, anchor: datetime | None = None
    ) -> Recurrence:
        """Validate a definition whole (the rule, the template, the policies); the rule of a
        stored one restarts at ``anchor``, its next run."""
        if definition["catch_up"] not in ("skip", "once", "all"):
            raise ValidationError("catch_up must be skip, once or all")
        if definition["overlap"] not in ("allow", "skip", "replace"):
            raise ValidationError("overlap must be allow, skip or replace")
        deadline = definition.get("deadline")
        if deadline is not None and not 0 < deadline <= 366 * 86_400:
            raise ValidationError("deadline must be in (0, 31622400] seconds")
        template = definition["task"]
        unknown = set(template) - set(TEMPLATE_FIELDS)
        if unknown:
            raise ValidationError(f"task: unknown fields {sorted(unknown)}")
        ranker = template.get("ranker")
        if ranker is not None:
            if "priority" in template:
                raise ValidationError("task: give priority or ranker, not both")
            spec = self._spec(definition, occurrence=created_at, schedule_id="check")
            with contextlib.suppress(Conflict):  # declining is a ranker's right
                self.service.rank(ranker, spec)
        build_task(  # the template, as an occurrence's task
            self._spec(definition, occurrence=created_at, schedule_id="check"),
            now=created_at,
            default_max_attempts=self.service.settings.default_max_attempts,
        )
        return rule_of(definition, created_at, anchor)

    def _spec(
        self, definition: dict[str, Any], *, occurrence: datetime, schedule_id: str
    ) -> TaskSpec:
        template = definition["task"]
        deadline = definition.get("deadline")
        expires = None if deadline is None else occurrence + timedelta(seconds=deadline)
        return TaskSpec(
            **{k: template[k] for k in _SPEC_FIELDS if k in template},
            id=occurrence_id(schedule_id, occurrence),
            expires_at=expires,
        )

    async def create(
        self, name: str, definition: dict[str, Any], *, enabled: bool, by_template: bool = False
    ) -> ScheduleRecord:
        """A new schedule; with ``by_template`` its id is a hash of its task template (KAT's
        rule), so a second schedule of the same task is a Conflict."""
        check_name(name, "schedule name")
        now = self.service.clock.now()
        definition = {**definition, "enabled": enabled, "paused": False}
        rule = self.check(definition, now)
        if rule.next_after(now) is None:
            raise ValidationError(
                "the rule names no time after now (an 'at' in the past, or a rule that ended)"
            )
        schedule_id = template_id(definition["task"]) if by_template else new_id()
        record = ScheduleRecord(
            id=schedule_id, name=name, definition=orjson.dumps(definition).decode(),
            enabled=enabled, next_run_at=rule.next_after(now),
            last_run_at=None, last_task_id=None, version=1, created_at=now, updated_at=now,
        )  # fmt: skip
        if not await self._backend.schedule_insert(record):
            what = "of this task template" if by_template else f"named {name!r}"
            raise Conflict(f"a schedule {what} exists")
        return record

    async def get(self, schedule_id: str) -> ScheduleRecord:
        record = await self._backend.schedule_get(schedule_id)
        if record is None:
            raise NotFound(f"no schedule with id {schedule_id!r}")
        return record

    async def all(self) -> list[ScheduleRecord]:
        return await self._backend.schedule_list()

    async def update(
        self,
        schedule_id: str,
        *,
        name: str | None = None,
        definition: dict[str, Any] | None = None,
        enabled: bool | None = None,
        paused: bool | None = None,
    ) -> ScheduleRecord:
        """Change a schedule. A new rule (or zone) starts now, and enabling a disabled
        schedule counts from now (nothing is caught up), paused or not; resuming a paused
        one keeps its next run, so the occurrences missed while paused follow its catch-up
        policy."""
        record = await self.get(schedule_id)
        now = self.service.clock.now()
        old = orjson.loads(record.definition)
        new = dict(old if definition is None else definition)
        new_rule = any(new.get(key) != old.get(key) for key in ("rule", "timezone"))
        start = now.isoformat() if new_rule else old.get("start")
        new.pop("start", None)
        if start is not None:
            new["start"] = start
        was_enabled, was_paused = old.get("enabled", record.enabled), old.get("paused", False)
        new["enabled"] = was_enabled if enabled is None else enabled
        new["paused"] = was_paused if paused is None else paused
        anchor = None if new_rule else record.next_run_at
        rule = self.check(new, record.created_at, anchor)
        fires = new["enabled"] and not new["paused"]
        next_run = record.next_run_at
        if new_rule or (new["enabled"] and not was_enabled):
            next_run = rule.next_after(now)
        if name is not None:
            check_name(name, "schedule name")
        changed = replace(
            record,
            name=record.name if name is None else name,
            definition=orjson.dumps(new).decode(),
            enabled=fires,
            next_run_at=next_run,
            version=record.version + 1,
            updated_at=now,
        )
        if not await self._backend.schedule_update(changed, expect_version=record.version):
            raise Conflict(
                f"schedule {schedule_id!r} changed meanwhile, or the name {changed.name!r} "
                "is another's: read it and try again"
            )
        return changed

    async def delete(self, schedule_id: str) -> None:
        if not await self._backend.schedule_delete(schedule_id):
            raise NotFound(f"no schedule with id {schedule_id!r}")

    # -- evaluation (a leader service) ------------------------------------------------------

    async def fire_due(self, *, lag: float = 0.0) -> int:
        """Make the tasks of every occurrence due ``lag`` seconds ago or before; how many
        tasks were made. The leader looks with no lag; every other replica looks with
        :data:`FOLLOWER_LAG`, so that a dead leader's occurrences are made on time while
        its leadership lapses, and nothing is made twice (the ids) either way.

        Schedules whose tasks need no look at the previous one (overlap ``allow``, no
        ranker) have their tasks inserted together, a batch at a time; the others one by
        one, as their policies say."""
        now = self.service.clock.now()
        due_by = now - timedelta(seconds=lag)
        made = 0
        batched: list[tuple[ScheduleRecord, Recurrence, list[datetime]]] = []
        specs: list[TaskSpec] = []
        for record in await self._backend.schedule_list_due(now=due_by, limit=BATCH):
            definition, rule, times = self._occurrences(record, now)
            if definition["overlap"] == "allow" and "ranker" not in definition["task"]:
                specs += [self._spec(definition, occurrence=at, schedule_id=record.id)
                          for at in times]  # fmt: skip
                batched.append((record, rule, times))
                continue
            last_task, last_run = record.last_task_id, record.last_run_at
            for at in times:
                task_id = await self._occur(record, definition, at, last_task)
                if task_id is not None:
                    made, last_task, last_run = made + 1, task_id, at
            await self._advance(record, rule, now, last_task, last_run)
        made += await self._insert(specs)
        for record, rule, times in batched:
            if times:
                last_task, last_run = occurrence_id(record.id, times[-1]), times[-1]
            else:
                last_task, last_run = record.last_task_id, record.last_run_at
            await self._advance(record, rule, now, last_task, last_run)
        return made

    def _occurrences(
        self, record: ScheduleRecord, now: datetime
    ) -> tuple[dict[str, Any], Recurrence, list[datetime]]:
        """The definition, the rule, and the times to make tasks for now (catch-up applied)."""
        definition = orjson.loads(record.definition)
        assert record.next_run_at is not None  # a due schedule has one
        rule = rule_of(definition, record.created_at, record.next_run_at)
        found = rule.due(record.next_run_at - timedelta(microseconds=1), now, MAX_CATCH_UP + 1)
        on_time = [t for t in found if (now - t).total_seconds() <= GRACE_SECONDS]
        missed = found[: len(found) - len(on_time)]
        policy: CatchUp = definition["catch_up"]
        if policy == "skip":
            missed = []
        elif policy == "once":
            missed = missed[-1:]
        else:
            missed = missed[-MAX_CATCH_UP:]
        return definition, rule, missed + on_time

    async def _insert(self, specs: list[TaskSpec]) -> int:
        """Insert occurrences' tasks a batch at a time; a batch that holds one another
        replica made already (or one an operator's block refuses) goes one by one."""
        made = 0
        for start in range(0, len(specs), limits.MAX_BATCH):
            chunk = specs[start : start + limits.MAX_BATCH]
            try:
                made += len(await self.service.enqueue_many(chunk))
            except (DuplicateTask, IntakeBlocked):
                for spec in chunk:
                    with contextlib.suppress(DuplicateTask, IntakeBlocked):
                        await self.service.enqueue(spec)
                        made += 1
        return made

    async def _advance(
        self,
        record: ScheduleRecord,
        rule: Recurrence,
        now: datetime,
        last_task: str | None,
        last_run: datetime | None,
    ) -> None:
        advanced = replace(
            record,
            next_run_at=rule.next_after(now),
            last_run_at=last_run,
            last_task_id=last_task,
            version=record.version + 1,
            updated_at=now,
        )
        # lost to another leader: it advanced the schedule, and the ids kept tasks single
        await self._backend.schedule_update(advanced, expect_version=record.version)

    async def _occur(
        self, record: ScheduleRecord, definition: dict[str, Any], at: datetime, previous: str | None
    ) -> str | None:
        """The task of one occurrence, as the overlap policy says; its id, or None."""
        service = self.service
        overlap: Overlap = definition["overlap"]
        if previous is not None and overlap != "allow":
            try:
                prior: Task | None = await service.get(previous)
            except NotFound:
                prior = None
            if prior is not None and prior.state in _UNFINISHED:
                if overlap == "skip":
                    return None
                with contextlib.suppress(IllegalTransition):  # it ended meanwhile
                    await service.cancel(prior.id, actor=f"schedule:{record.name}")
        spec = self._spec(definition, occurrence=at, schedule_id=record.id)
        ranker = definition["task"].get("ranker")
        if ranker is not None:  # the priority of this occurrence, from the schedule's history
            last = record.last_run_at
            try:
                spec = service.rank(ranker, spec._replace(run_at=at), last_run_at=last)
            except Conflict:
                return None  # the ranker declined this one (inside its grace period)
            except RotaError as exc:  # a ranker this replica lacks, or one that failed
                log.warning("schedule %s: occurrence %s not made: %s", record.name, at, exc)
                return None
        try:
            task = await service.enqueue(spec)
        except DuplicateTask:
            return spec.id  # another replica made it: one task per occurrence
        except IntakeBlocked:
            return None  # an operator closed its intake: the occurrence is not run
        return task.id
