"""What a wake-up says: which queues got tasks to claim, or "look everywhere".

Every store sends the same text (PostgreSQL's NOTIFY payload, Redis's PUBLISH message,
SQLite's datagram): ``q `` and the queues' names, one space apart (a name has no spaces),
when the writer knows them (an insert, a move or a re-queue of known tasks); anything else
(an empty payload, a marker of an older rota) wakes every waiting claim. A claim sleeps
through a wake-up that names none of its queues, so a worker of a quiet queue beside a
busy one is not sent to find nothing once per busy task. A list that would not fit in
``MAX_NAMED`` bytes is sent as "look everywhere" instead: queries.sql and the Lua scripts
get the number from here; only the insert trigger of migration 0024, stored in the
database, spells it out.
"""

from __future__ import annotations

from collections.abc import Iterable

PREFIX = "q "
#: the longest list of names a wake-up carries (PostgreSQL's payload stops below 8,000)
MAX_NAMED = 7000

#: the queues a wake-up names; None: any queue
Queues = frozenset[str] | None


def payload(queues: Iterable[str] | None) -> str:
    """The wake-up for tasks made ready in ``queues`` (None: unknown queues)."""
    if queues is None:
        return ""
    names = " ".join(sorted(set(queues)))
    return "" if not names or len(names) > MAX_NAMED else PREFIX + names


def queues(text: str) -> Queues:
    """The queues a received wake-up names; None when it names none (wake every claim)."""
    if not text.startswith(PREFIX) or len(text) == len(PREFIX):
        return None
    return frozenset(text[len(PREFIX) :].split(" "))
