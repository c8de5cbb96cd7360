"""`bot forget`: whole values only, never another person's data or a shared index; --dry-run;
valid numbers only; the AOF on disk is rewritten; the consent log goes too."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot import keys
from bot.cli import main
from bot.core.model import Inbound
from bot.runtime import Runtime, build
from bot.settings import Settings
from tests.conftest import EXERCISES_PATH, Clock, Phone
from tests.redis_server import RedisServer, wait_for
from tests.test_reminders import book, enrol

US = "+19495551234"
INDIA = "+919495551234"  # its digits contain the US number's: a substring match took both


def triage_through(phone: Phone) -> None:
    for text in ("hi", *(t for _, t in EXERCISES_PATH)):
        phone.send(text)


def test_forgetting_one_number_leaves_a_number_that_contains_its_digits(
    app: Any, runtime: Runtime
) -> None:
    us, india = Phone(app.test_client(), US), Phone(app.test_client(), INDIA)
    triage_through(us)
    triage_through(india)
    india.send("STOP")
    runtime.store.forget(US)
    assert not runtime.redis.exists(keys.patient(US))
    assert runtime.store.load(INDIA).opted_out
    assert runtime.redis.exists(keys.patient(INDIA))
    assert [r["phone"] for r in runtime.service.export()] == [INDIA]
    assert [e["event"] for e in runtime.store.consent_log(INDIA)] == ["opt-in", "opt-out"]
    assert runtime.redis.sismember(keys.PATIENTS, INDIA)


def test_forgetting_one_patient_keeps_everyone_elses_reminders(runtime: Runtime) -> None:
    mine = enrol(runtime, start=date(2026, 6, 1), phone=US)
    theirs = enrol(runtime, start=date(2026, 6, 1), phone=INDIA)
    runtime.store.forget(US)
    assert [job.id for job in book(runtime).jobs()] == [keys.reminder_job(theirs)]
    assert runtime.store.phone_of(theirs) == INDIA  # the shared id map lost only my entry
    assert runtime.store.find_patient_id(INDIA) == theirs
    assert runtime.store.phone_of(mine) is None


def test_a_dry_run_lists_the_plan_and_changes_nothing(
    app: Any, runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    phone = Phone(app.test_client(), US)
    triage_through(phone)
    before = {k: runtime.redis.type(k) for k in runtime.redis.keys("*")}
    plan = runtime.store.forget(US, dry_run=True)
    assert {k: runtime.redis.type(k) for k in runtime.redis.keys("*")} == before
    assert {r.key for r in plan if not r.items} >= {keys.patient(US), keys.consent(US)}
    shared = {r.key: r.items for r in plan if r.items}
    assert shared[keys.PATIENTS] == (US,)  # only that member of the shared set
    assert all(r.key not in keys.SHARED for r in plan if not r.items)


def test_the_cli_dry_run_masks_the_number_and_deletes_nothing(
    live_store: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    live_store.service.handle_inbound(US, Inbound("hi"), live_store.clock())
    assert main(["forget", "--dry-run", US]) == 0
    out = capsys.readouterr().out
    assert "delete string bot:patient:...1234" in out and "nothing was deleted" in out
    assert US not in out
    assert live_store.redis.exists(keys.patient(US))


@pytest.mark.parametrize("number", ["+15555555555", "12345", "949555", "not a number", "+1"])
def test_forget_refuses_numbers_that_are_not_valid(
    live_store: Runtime, capsys: pytest.CaptureFixture[str], number: str
) -> None:
    live_store.service.handle_inbound(US, Inbound("hi"), live_store.clock())
    assert main(["forget", number]) == 2
    assert "not a valid phone number" in capsys.readouterr().err
    assert live_store.redis.exists(keys.patient(US))


def test_forget_erases_the_consent_log(app: Any, runtime: Runtime) -> None:
    phone = Phone(app.test_client(), US)
    phone.send("hi")
    phone.send("STOP")
    assert runtime.store.consent_log(US)
    runtime.store.forget(US)
    assert runtime.store.consent_log(US) == []


@pytest.mark.slow
def test_after_forget_the_append_only_file_no_longer_holds_the_number(
    settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    with RedisServer(args=("--save", "", "--appendonly", "yes")) as server:
        client = server.client(decode_responses=True)
        rt = build(replace(settings, redis_url=server.url), client=client, clock=clock)
        for text in ("hi", "yes", "2"):
            rt.service.handle_inbound(US, Inbound(text), clock())

        def on_disk() -> bytes:
            return b"".join(p.read_bytes() for p in server.dir.rglob("*.aof"))

        wait_for(lambda: US.encode() in on_disk())
        rt.store.forget(US)
        from bot import erase

        assert "AOF rewrite started" in erase.rewrite_files(client)
        wait_for(lambda: US.encode() not in on_disk() and US[1:].encode() not in on_disk())


@pytest.fixture
def live_store(settings: Settings, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    """The CLI's `build` returns the test's runtime (its fakeredis)."""
    monkeypatch.setattr("bot.runtime.build", lambda *_a, **_k: runtime)
    return runtime


def test_forget_removes_the_invite_marks_that_stand_for_the_number(
    runtime: Runtime, clock: Clock
) -> None:
    from tests.test_abuse import to_reminder_offer

    to_reminder_offer(runtime, "web:visitor1")
    runtime.service.handle_inbound("web:visitor1", Inbound(f"{US} at 7am", "web"), clock())
    tag = runtime.store.tag(US)
    assert runtime.redis.exists(keys.invite_pending(tag), keys.invite_sent(tag)) == 2
    runtime.store.forget(US)
    assert runtime.redis.exists(keys.invite_pending(tag), keys.invite_sent(tag)) == 0


def test_forgetting_a_staff_number_keeps_the_patients_alert_it_claimed(
    app: Any, runtime: Runtime
) -> None:
    patient = Phone(app.test_client(), US)
    for text in ("hi", "yes", "1"):
        patient.send(text)
    (ref,) = runtime.alerts.open_refs()
    Phone(app.test_client(), "+19495550101").send(f"ACK {ref}")
    runtime.store.forget("+19495550101")
    alert = runtime.alerts.get(ref)
    assert alert is not None and alert["phone"] == US and alert["status"] == "claimed"
    assert "claimed_by" not in alert
