"""The Lua scripts, read from the ``.lua`` files beside this module.

A script that reads tasks gets ``common.lua`` in front of it; one that changes tasks gets
``common.lua`` and ``lib.lua``. The loader fills what core owns: ``TASK_FIELDS`` (the task
hash's field names, :data:`~rota.backends.redis.keys.FIELDS`), ``WAITING_STATES``
(:data:`rota.core.states.WAITING_STATES`) and ``WAKE_MAX_NAMED``
(:data:`rota.core.wakeups.MAX_NAMED`), so a rule is written once, in core.
Each script is registered with redis-py, which calls it by SHA and loads it again when the
server answers NOSCRIPT (after a restart or ``SCRIPT FLUSH``).
"""

from __future__ import annotations

from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from rota.backends.redis.keys import FIELDS
from rota.core import wakeups
from rota.core.states import WAITING_STATES

#: scripts that change tasks: common.lua + lib.lua + the file
WRITERS = (
    "insert", "claim", "finish", "heartbeat", "cancel", "cancel_request", "set_priority",
    "requeue", "promote", "expire", "delete", "move", "age",
)  # fmt: skip
#: scripts that only read tasks: common.lua + the file
READERS = ("list", "rows", "position", "wake_unclaimed")
#: scripts on their own
PLAIN = ("leader", "resign", "reap_workers", "token_insert", "token_set", "audit_append",
         "schedule_put", "schedule_delete")  # fmt: skip

_SUBSTITUTIONS = {
    "TASK_FIELDS": ", ".join(f"'{name}'" for name in FIELDS),
    "WAITING_STATES": "{" + ", ".join(f"{s.value} = true" for s in sorted(WAITING_STATES)) + "}",
    "WAKE_MAX_NAMED": str(wakeups.MAX_NAMED),
}


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(f"{name}.lua").read_text()


def _fill(text: str) -> str:
    """Substitute in code, never in comments (which name the placeholders)."""
    lines = []
    for line in text.splitlines():
        if not line.lstrip().startswith("--"):
            for key, value in _SUBSTITUTIONS.items():
                line = line.replace(key, value)
        lines.append(line)
    return "\n".join(lines) + "\n"


def source(name: str) -> str:
    """The full text sent to Redis for one script."""
    if name in WRITERS:
        parts = ["common", "lib", name]
    elif name in READERS:
        parts = ["common", name]
    elif name in PLAIN:
        parts = [name]
    else:
        raise KeyError(name)
    return "".join(_fill(_read(part)) for part in parts)


SOURCES: dict[str, str] = {name: source(name) for name in WRITERS + READERS + PLAIN}


class Scripts:
    """Every script, registered on one client (callable on another with ``client=``)."""

    def __init__(self, client: Redis) -> None:
        def register(text: str) -> AsyncScript:
            return client.register_script(text)

        self.insert = register(SOURCES["insert"])
        self.claim = register(SOURCES["claim"])
        self.finish = register(SOURCES["finish"])
        self.heartbeat = register(SOURCES["heartbeat"])
        self.cancel = register(SOURCES["cancel"])
        self.cancel_request = register(SOURCES["cancel_request"])
        self.set_priority = register(SOURCES["set_priority"])
        self.requeue = register(SOURCES["requeue"])
        self.move = register(SOURCES["move"])
        self.promote = register(SOURCES["promote"])
        self.expire = register(SOURCES["expire"])
        self.delete = register(SOURCES["delete"])
        self.list = register(SOURCES["list"])
        self.rows = register(SOURCES["rows"])
        self.position = register(SOURCES["position"])
        self.wake_unclaimed = register(SOURCES["wake_unclaimed"])
        self.age = register(SOURCES["age"])
        self.leader = register(SOURCES["leader"])
        self.resign = register(SOURCES["resign"])
        self.reap_workers = register(SOURCES["reap_workers"])
        self.token_insert = register(SOURCES["token_insert"])
        self.token_set = register(SOURCES["token_set"])
        self.audit_append = register(SOURCES["audit_append"])
        self.schedule_put = register(SOURCES["schedule_put"])
        self.schedule_delete = register(SOURCES["schedule_delete"])
