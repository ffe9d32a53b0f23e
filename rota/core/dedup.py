"""Deduplication: at most one task of a queue and tenant holds a unique key at a time.

A submit may name a ``unique_key`` (or ask for ``unique: "content"``, a hash of kind,
payload and tenant). The store keeps, per key (scoped by queue and tenant, so tenants never
meet), the task that holds it. The key is held while that task waits (queued or scheduled),
also while it runs when asked (``while_running``), and in any state until a window ends
(``until``, from ``unique_for`` seconds). A submit whose key is held meets the holder and
follows its rule, KAT's choices:

- ``reject``: refused (409), nothing of the batch stored;
- ``existing``: the holder is the answer (an idempotent submit);
- ``replace``: a waiting holder is canceled and the new task takes the key (a running or
  finished holder is left as it is, and the new task takes the key);
- ``update_payload``: a waiting holder takes the new payload;
- ``raise_priority``: a waiting holder takes the new priority if it is higher;
- ``update_priority``: a waiting holder takes the new priority and rank (its place in line
  moves, up or down) when either differs; when neither does the submit is refused as under
  ``reject`` (KAT's priority update of a queued item);
- ``update``: a waiting holder takes the new payload, priority and rank when any differs;
  when none does, refused as under ``reject``.

A submit without a rank leaves the holder's rank (its place) as it is. The last four answer
with the holder, as ``existing`` does; a holder that is no longer waiting is left unchanged
and answers as under ``existing``. The store decides atomically (a transaction, one Lua
script), with :func:`holds`, :func:`action` and :func:`changed` (by way of :func:`plan`):
never a read in Python followed by a write.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

import orjson

from rota.core.errors import Conflict, ValidationError
from rota.core.models import Task
from rota.core.states import WAITING_STATES, TaskState

Rule = Literal[
    "reject", "existing", "replace", "update_payload", "raise_priority", "update_priority", "update"
]
RULES: tuple[Rule, ...] = (
    "reject", "existing", "replace", "update_payload", "raise_priority", "update_priority", "update"
)  # fmt: skip
#: the rules that refuse a submit that would change nothing of a waiting holder
UPDATES = ("update_priority", "update")
#: what the store does with a new task whose key is held
Action = Literal[
    "reject", "existing", "replace", "update_payload", "raise_priority", "update_priority",
    "update", "insert",
]  # fmt: skip
#: the longest unique_key, and the longest window, seconds
MAX_KEY_CHARS = 256
#: a unique_key: printable ASCII, not starting with a space
KEY_PATTERN = r"^[!-~][ -~]*$"
MAX_UNIQUE_FOR = 366 * 86_400
_SEP = "\x1f"  # in no queue or tenant name


class DuplicateKey(Conflict):
    """A submit whose unique key an equal task holds, under the rule ``reject``."""


@dataclass(frozen=True, slots=True)
class Unique:
    """What a new task asks of the store about its key."""

    #: the key as stored: queue, tenant and the caller's key (:func:`scoped`)
    key: str
    rule: Rule = "reject"
    while_running: bool = False
    #: the key is held at least until then, whatever the holder's state
    until: datetime | None = None


def scoped(queue: str, tenant: str | None, key: str) -> str:
    return f"{queue}{_SEP}{tenant or ''}{_SEP}{key}"


def shown(stored: str) -> str:
    """The caller's part of a stored key."""
    return stored.rsplit(_SEP, 1)[-1]


def content_key(kind: str, payload: dict[str, Any], tenant: str | None) -> str:
    """``unique: "content"``: equal kind, payload (keys in any order) and tenant, one key."""
    canonical = orjson.dumps([kind, payload, tenant], option=orjson.OPT_SORT_KEYS)
    return "content:" + hashlib.sha256(canonical).hexdigest()


def holds(
    holder: TaskState | None, *, while_running: bool, until: datetime | None, now: datetime
) -> bool:
    """Whether a stored key is still held (``holder``: its task's state, None if gone)."""
    if until is not None and now < until:
        return True
    if holder is None:
        return False
    return holder in WAITING_STATES or (while_running and holder is TaskState.RUNNING)


def action(rule: Rule, holder: TaskState | None, held: bool) -> Action:
    """What to do with a new task whose key stands as given."""
    if not held:
        return "insert"
    if rule in ("reject", "existing", "replace"):
        return rule
    return rule if holder in WAITING_STATES else "existing"


def raised(holder: Task, priority: int) -> int:
    return max(holder.priority, priority)


class Change(NamedTuple):
    """What a waiting holder takes under ``update_priority`` or ``update``; None: kept."""

    payload: dict[str, Any] | None
    priority: int | None
    #: its new place (the new task's rank)
    place: float | None

    def message(self, holder: Task) -> str:
        """The ``priority_changed`` event's message (the same text on every store)."""
        priority = holder.priority if self.priority is None else self.priority
        return f"priority {priority}" + ("" if self.place is None else f", rank {self.place!r}")


def changed(rule: Rule, holder: Task, task: Task) -> Change | None:
    """What ``task`` changes of ``holder`` under an update rule; None: nothing differs. A
    task without a rank (an unplaced one) keeps the holder's place."""
    payload = task.payload if rule == "update" and task.payload != holder.payload else None
    priority = task.priority if task.priority != holder.priority else None
    place = task.place if task.place >= 0 and task.place != holder.place else None
    if payload is None and priority is None and place is None:
        return None
    return Change(payload, priority, place)


class Held(NamedTuple):
    """A stored key: its holder (None when that task is gone) and how it holds."""

    holder: Task | None
    while_running: bool
    until: datetime | None


class Step(NamedTuple):
    """What the store does with one task of a batch: ``action``, against ``holder`` (None
    for ``insert``: the task goes in and takes its key)."""

    action: Action
    holder: Task | None = None
    #: under an update rule, what the holder takes
    change: Change | None = None


def plan(
    tasks: Sequence[Task],
    uniques: Sequence[Unique | None],
    stored: Mapping[str, Held],
    now: datetime,
) -> list[Step]:
    """Each task's step, given its key's stored holder; DuplicateKey for a rejected one
    (before the store writes anything). A batch may name a key once."""
    seen: set[str] = set()
    steps = []
    for task, unique in zip(tasks, uniques, strict=True):
        if unique is None:
            steps.append(Step("insert"))
            continue
        if unique.key in seen:
            raise ValidationError(f"the batch names unique key {shown(unique.key)!r} twice")
        seen.add(unique.key)
        entry = stored.get(unique.key)
        holder = None if entry is None else entry.holder
        state = None if holder is None else holder.state
        held = entry is not None and holds(
            state, while_running=entry.while_running, until=entry.until, now=now
        )
        step = action(unique.rule, state, held)
        change = None
        if step in UPDATES:
            assert holder is not None
            change = changed(unique.rule, holder, task)
            if change is None:
                raise DuplicateKey(
                    f"unique key {shown(unique.key)!r} of queue {task.queue!r} is held by task "
                    f"{holder.id!r}, unchanged: {UNCHANGED[unique.rule]}"
                )
        if step == "reject":
            assert holder is not None or entry is not None
            which = f"task {holder.id!r}" if holder is not None else "a task within its window"
            raise DuplicateKey(
                f"unique key {shown(unique.key)!r} of queue {task.queue!r} is held by {which}"
            )
        steps.append(Step(step, None if step == "insert" else holder, change))
    return steps


#: why an update rule refused a submit (the end of DuplicateKey's message, on every store)
UNCHANGED = {
    "update_priority": "it has that priority and rank",
    "update": "it has that payload, priority and rank",
}
