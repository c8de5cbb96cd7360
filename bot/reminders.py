"""Exercise reminders: keep each patient's wake-up job in step with their plan; send exactly once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol

from bot import keys
from bot.alerts import Alerts
from bot.core.channels import proactive_kind
from bot.core.model import Alert, Patient, Step
from bot.core.plan import ACTIVE, Due, Plan, PlanSettings
from bot.core.plan_due import reminder_due
from bot.core.times import local_instant
from bot.privacy import mask
from bot.render import Renderer
from bot.store import Store, patient_from_json
from bot.whatsapp import Outreach
from bot.writes import Writes

log = logging.getLogger(__name__)

RETRY_BUSY = timedelta(minutes=10)  # a patient mid-questionnaire gets the reminder after it
SENT_TTL = timedelta(days=2)  # the sent mark only has to outlive a double fire or a failover
# Reasons after which a plan's job has nothing left to do (RESUME or a new plan re-adds it).
FINISHED = frozenset({"opted_out", "no_plan", "ended", "paused"})
BATCH = 500


@dataclass(frozen=True)
class Wake:
    """When a patient's job wakes: daily at `at` in `zone`, from `start` (local date)."""

    zone: str
    at: time
    start: date


class Jobs(Protocol):
    """The scheduling port: one daily job and at most one retry job per patient id."""

    def put(self, patient_id: str, wake: Wake, now: datetime, *,
            first: datetime | None = None) -> bool: ...  # fmt: skip

    def retry(self, patient_id: str, at: datetime) -> None: ...

    def remove(self, patient_id: str) -> None: ...

    def ids(self) -> set[str]: ...

    def run_due(self, now: datetime, fire: Callable[[str, datetime], object]) -> int: ...


def wake_of(plan: Plan, settings: PlanSettings) -> Wake:
    """The plan's send time, moved up to the start of allowed hours like the core does."""
    return Wake(plan.zone, max(plan.at, settings.quiet_start), plan.start)


def active_plan(patient: Patient) -> Plan | None:
    """The plan that needs a job: active and the number not opted out."""
    if patient.opted_out or not patient.plan:
        return None
    plan = Plan.from_json(patient.plan)
    return plan if plan.status == ACTIVE else None


def textable(phone: str) -> bool:
    """Web chat sessions ('web:...') have no number to text reminders to."""
    return phone.startswith("+")


class Reminders:
    """The use cases: sync a patient's job after a change, fire a job, catch up on start."""

    def __init__(self, store: Store, renderer: Renderer, settings: PlanSettings, jobs: Jobs,
                 clock: Callable[[], datetime], alerts: Alerts | None = None, *,
                 outreach: Outreach) -> None:  # fmt: skip
        self.alerts = alerts  # for the staff flag a stalled plan raises
        self.outreach = outreach  # the route: SMS, WhatsApp free-form or template, or none
        self.store = store
        self.renderer = renderer
        self.settings = settings
        self.jobs = jobs
        self.clock = clock

    # --- after every committed change (Service.after_change) ---
    def sync(self, patient: Patient, now: datetime) -> None:
        """Add or replace the job for an active plan; remove it otherwise (STOP, PAUSE, end)."""
        if not textable(patient.phone):
            return
        plan = active_plan(patient)
        if plan is None:
            if (patient_id := self.store.find_patient_id(patient.phone)) is not None:
                self.jobs.remove(patient_id)
            return
        patient_id = self.store.patient_id(patient.phone)
        if self.jobs.put(patient_id, wake_of(plan, self.settings), now):
            log.info("reminders for %s scheduled at %s %s", mask(patient.phone),
                     wake_of(plan, self.settings).at, plan.zone)  # fmt: skip

    # --- when a job wakes ---
    def fire(self, patient_id: str, now: datetime | None = None) -> str:
        """Send what the plan says is due now, once; returns what happened (for logs and tests)."""
        now = now or self.clock()
        phone = self.store.phone_of(patient_id)
        if phone is None:  # forgotten: nothing to send to
            self.jobs.remove(patient_id)
            return "unknown"
        due = self.store.update(phone, lambda p, pipe: self._queue(patient_id, p, pipe, now))
        assert isinstance(due, Due)  # Seen only comes back for a MessageSid, and we pass none
        if due.wait:
            self.jobs.retry(patient_id, now + RETRY_BUSY)
        elif due.reason in FINISHED:
            self.jobs.remove(patient_id)
        outcome = due.reason or f"queued {due.kind}"
        log.info("reminder job for %s: %s", mask(phone), outcome)
        return outcome

    def _queue(self, patient_id: str, patient: Patient, pipe: Writes, now: datetime) -> Due:
        """Inside the patient's transaction: save the plan, mark sent, queue the messages."""
        due = reminder_due(patient, now, settings=self.settings)
        if due.kind is None or due.wait or due.local_date is None:
            return due
        day = due.local_date.isoformat()
        sent = keys.reminder_sent(patient_id, day, due.kind)
        # The core's last_sent (under the patient's WATCH) already refuses a second send; the
        # mark also covers a plan saved by an older copy of the code, and is what operators see.
        if self.store.redis.exists(sent):
            return Due(Step(patient), reason="sent")
        self.store.queue_save(pipe, due.step.patient)
        pipe.set(sent, "1", nx=True, ex=SENT_TTL)
        # A backlog or retry must never deliver it in quiet hours: past today's end it is dropped.
        zone = Plan.from_json(patient.plan or {}).zone
        deadline = local_instant(due.local_date, self.settings.quiet_end, zone).timestamp() + 59
        for effect in due.step.effects:
            if isinstance(effect, Alert) and self.alerts is not None:
                ref = self.alerts.queue_create(pipe, level=effect.level, rule=effect.rule,
                                               phone=patient.phone, channel="sms", now=now,
                                               lang=patient.lang or "")  # fmt: skip
                log.info("alert %s (%s) raised for %s", ref, effect.level, mask(patient.phone))
        context = {k: v for reply in due.step.replies for k, v in reply.context.items()}
        kind = proactive_kind([reply.template for reply in due.step.replies], "reminder")
        self.outreach.queue(pipe, due.step.patient, kind=kind,
                            message_id=f"reminder:{patient_id}:{day}:{due.kind}",
                            texts=self._texts(due.step), context=context, now=now,
                            not_after=deadline)  # fmt: skip
        return due

    def _texts(self, step: Step) -> list[str]:
        return self.renderer.messages(step.replies, "sms", step.patient.lang)

    # --- when a worker becomes the scheduler ---
    def catch_up(self, now: datetime) -> int:
        """Give every active plan without a job one that wakes now, and put right a job whose
        schedule no longer matches its plan (a lost TIME/ZONE change); returns how many.

        Overdue jobs need nothing here: the scheduler runs each once (coalesce), and the core
        sends a missed message only while it is still that local day and allowed hours.
        """
        fixed = 0
        for phone, patient, known_id in self._patients():
            plan = active_plan(patient)
            if plan is None or not textable(phone):
                continue
            patient_id = known_id or self.store.patient_id(phone)
            # A no-op when the job matches its plan; a new or repaired job wakes now, so today's
            # send is kept (the core answers "not due" when it is not time yet).
            fixed += self.jobs.put(patient_id, wake_of(plan, self.settings), now, first=now)
        if fixed:
            log.warning("reminders: %d active plans had no job or a stale one; put right", fixed)
        return fixed

    def _patients(self) -> Iterator[tuple[str, Patient, str | None]]:
        """Every stored patient with its id, read in pipelined batches."""
        phones = [str(p) for p in self.store.redis.sscan_iter(keys.PATIENTS, count=BATCH)]
        for start in range(0, len(phones), BATCH):
            chunk = phones[start : start + BATCH]
            pipe = self.store.redis.pipeline(transaction=False)
            pipe.mget([keys.patient(p) for p in chunk])
            pipe.smismember(keys.OPTED_OUT, chunk)
            pipe.hmget(keys.PATIENT_IDS, chunk)
            docs, opted, ids = pipe.execute()
            for phone, raw, out, pid in zip(chunk, docs, opted, ids, strict=True):
                yield (
                    phone,
                    patient_from_json(phone, raw, bool(out)),
                    None if pid is None else str(pid),
                )
