"""The outbox's pure decision (entry, state, now) -> action, lanes and batch sizes, as tables."""

from __future__ import annotations

import pytest

from bot.core.sending import (
    Action,
    Do,
    Entry,
    EntryState,
    Lane,
    Mark,
    MarkState,
    batch_size,
    decide,
    lane_for,
)

NOW = 1_800_000_000.0
ME, OTHER = "host-1", "host-2"
REMINDER = Entry("m1", "+19495550123", "Time for your exercises", "reminder")
ALERT = Entry("alert:K7Q2:+19495550101:initial", "+19495550101", "EMERGENCY", "alert")


def mark(owner: str, ago: float, state: MarkState = MarkState.SENDING) -> Mark:
    return Mark(owner, NOW - ago, state)


@pytest.mark.parametrize(
    ("entry", "state", "expected"),
    [
        # nothing known yet: send
        (REMINDER, EntryState(), Action(Do.SEND)),
        # sent already (e.g. by a worker that died before its ack): just ack
        (REMINDER, EntryState(sent=True, mark=mark(OTHER, 5)), Action(Do.FINISH)),
        # a patient who opted out or cannot be reached: drop quietly
        (REMINDER, EntryState(blocked=True), Action(Do.FINISH)),
        # a staff alert to such a number is never dropped: it goes elsewhere
        (ALERT, EntryState(blocked=True), Action(Do.REROUTE)),
        # a reminder past its allowed hours
        (Entry("m", "+1", "b", "reminder", not_after=NOW - 1), EntryState(), Action(Do.DROP)),
        # not due yet
        (Entry("m", "+1", "b", "reminder", not_before=NOW + 60), EntryState(),
         Action(Do.PARK, NOW + 60)),
        # another live worker holds the mark (idle behind the rate limit is normal): leave it
        (REMINDER, EntryState(mark=mark(OTHER, 300), owner_alive=True), Action(Do.LEAVE)),
        # its owner is gone, but Twilio may not list the message yet: wait for it to settle
        (REMINDER, EntryState(mark=mark(OTHER, 5)), Action(Do.PARK, NOW + 25)),
        # owner gone and settled: look it up before anything else
        (REMINDER, EntryState(mark=mark(OTHER, 45)), Action(Do.RECONCILE)),
        # an ambiguous send handed back to the outbox: reconcile once settled, whoever is alive
        (REMINDER, EntryState(mark=mark(OTHER, 45, MarkState.UNKNOWN), owner_alive=True),
         Action(Do.RECONCILE)),
        (REMINDER, EntryState(mark=mark(ME, 10, MarkState.UNKNOWN), owner_alive=True),
         Action(Do.PARK, NOW + 20)),
        # my own "sending" mark in a fresh read: my attempt broke before it was recorded
        (REMINDER, EntryState(mark=mark(ME, 40), owner_alive=True), Action(Do.RECONCILE)),
    ],
)  # fmt: skip
def test_decide(entry: Entry, state: EntryState, expected: Action) -> None:
    assert decide(entry, state, NOW, ME, settle=30.0) == expected


@pytest.mark.parametrize(
    ("kind", "level", "actionable", "lane"),
    [
        ("alert", "emergency", True, Lane.EMERGENCY),
        ("alert", "urgent", True, Lane.URGENT),
        ("alert", "priority_call", True, Lane.STAFF),
        ("alert", "callback", True, Lane.STAFF),
        ("alert", None, True, Lane.STAFF),
        # nobody can call a web visitor without a number back: one lane lower
        ("alert", "emergency", False, Lane.URGENT),
        ("alert", "urgent", False, Lane.STAFF),
        ("alert", "lead", False, Lane.STAFF),
        ("reminder", None, True, Lane.REST),
        ("notice", "emergency", True, Lane.REST),
    ],
)
def test_lanes(kind: str, level: str | None, actionable: bool, lane: Lane) -> None:
    assert lane_for(kind, level, actionable=actionable) is lane


@pytest.mark.parametrize(
    ("rate", "claim_idle", "size"),
    [(1.0, 30.0, 2), (0.5, 30.0, 1), (0.1, 30.0, 1), (5.0, 30.0, 10), (3.0, 2.0, 1),
     (None, 30.0, 10)],
)  # fmt: skip
def test_batches_are_sized_to_the_send_rate(rate: float | None, claim_idle: float,
                                            size: int) -> None:  # fmt: skip
    assert batch_size(rate, claim_idle) == size


def test_entries_and_marks_survive_their_round_trip() -> None:
    entry = Entry("m", "+1", "b", "alert", NOW + 1, 2, NOW + 9, Lane.URGENT)
    assert Entry.from_fields(entry.fields()) == entry
    assert Entry.from_fields(REMINDER.fields()).lane is Lane.REST
    owned = Mark(ME, NOW, MarkState.UNKNOWN)
    assert Mark.load(owned.dump()) == owned
    assert Mark.load(repr(NOW)) == Mark("", NOW, MarkState.UNKNOWN)  # a mark from before owners
