"""The notifier wakes the claims a wake-up concerns: those of the queues it names, or all."""

from __future__ import annotations

import asyncio
import gc

from rota.core import wakeups
from rota.service.notifier import Notifier


async def test_a_named_wake_up_wakes_only_claims_of_its_queues() -> None:
    notifier = Notifier()
    quiet, busy = notifier.ticket(["quiet"]), notifier.ticket(["busy", "other"])
    every = notifier.ticket(None)
    assert notifier.ticket(["quiet"]) is quiet  # claims of the same queues share one

    assert notifier.notify(frozenset({"busy"}))
    assert (quiet.done(), busy.done(), every.done()) == (False, True, True)
    assert not notifier.notify(["busy"])  # nobody of those queues is waiting now

    assert notifier.notify(None)  # names none: every claim looks
    assert quiet.done()


async def test_a_claim_that_took_a_ticket_after_a_wake_up_waits_for_the_next() -> None:
    notifier = Notifier()
    first = notifier.ticket(["q"])
    notifier.notify(["q"])
    second = notifier.ticket(["q"])
    assert first.done() and not second.done()
    await Notifier.wait(second, 0.05)  # nothing wakes it: it waits the time out
    assert not second.done()


async def test_tickets_no_claim_holds_are_forgotten() -> None:
    notifier = Notifier()
    for i in range(100):
        notifier.ticket([f"q{i}"])
    gc.collect()
    assert len(notifier._tickets) == 0
    held = notifier.ticket(["q"])
    gc.collect()
    assert list(notifier._tickets.values()) == [held]
    await asyncio.sleep(0)


def test_the_wake_up_text_round_trips_and_falls_back_to_every_queue() -> None:
    assert wakeups.payload(["b", "a", "b"]) == "q a b"
    assert wakeups.queues(wakeups.payload(["b", "a"])) == {"a", "b"}
    assert wakeups.payload(None) == ""
    assert wakeups.queues("") is None  # an older rota's, or unknown queues
    assert wakeups.queues("1") is None and wakeups.queues("!") is None
    long = [f"q{i:0120d}" for i in range(60)]  # past MAX_NAMED
    assert wakeups.payload(long) == ""
