"""handle_inbound: load, advance, save, enqueue, in one transaction per number; ports only."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot import consent, delivery, keys, outbox, reach
from bot.alerts import Alerts, staff_command
from bot.config import Config
from bot.core.channels import heard_from
from bot.core.language import advance_in
from bot.core.model import (
    REMINDER_OFFER,
    Alert,
    Conversation,
    Effect,
    Inbound,
    InvitePlan,
    OptedOut,
    Patient,
    Step,
    TriageFinished,
)
from bot.core.plan import release_hold
from bot.core.plan_progress import psfs_export
from bot.core.quiet import next_allowed
from bot.core.sending import Entry, Lane
from bot.core.times import local_date, local_instant, zone_for_number
from bot.privacy import mask
from bot.render import Renderer
from bot.store import Seen, Store
from bot.whatsapp import WINDOW_CODES
from bot.writes import Writes, script

log = logging.getLogger(__name__)


# At most once per ARGV[2] seconds of the caller's clock (the clock is a parameter); the key's
# own TTL only cleans up.
_ONCE_PER = script("""
local last = redis.call('GET', KEYS[1])
if last and tonumber(ARGV[1]) - tonumber(last) < tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
""")


@dataclass(frozen=True)
class InviteLimits:
    """Web visitors can make the clinic text a number: once a week per number, capped per hour."""

    per_number: timedelta = timedelta(days=7)
    per_hour: int = 30


TEMPLATES = ("staff_ack_claimed", "staff_ack_already", "staff_ack_unknown", "staff_restored",
             "staff_help", "staff_cleared", "sms_reminder_invite")  # fmt: skip
RETRY_30003_AFTER = timedelta(minutes=30)


@dataclass(frozen=True)
class Handled:
    replies: list[str]
    duplicate: bool = False


class Service:
    """The use cases: an inbound message from a patient or a staff member."""

    def __init__(self, config: Config, store: Store, renderer: Renderer, alerts: Alerts,
                 staff_numbers: tuple[str, ...], *,
                 invite_limits: InviteLimits | None = None) -> None:  # fmt: skip
        self.config = config
        self.invite_limits = invite_limits or InviteLimits()
        flow = config.playbook.flow
        start = flow.question(flow.start)
        self.consent_gate = start if start.stop_if is not None else None
        self.store = store
        self.renderer = renderer
        self.alerts = alerts
        self.staff_numbers = frozenset(staff_numbers)
        self.playbook = config.playbook
        # Called after a transaction that changed a patient's plan or opt-out (reminder jobs).
        self.after_change: list[Callable[[Patient, datetime], None]] = []
        # A sent WhatsApp message failed as outside the window (status callback): reroute it.
        self.on_window_refusal: Callable[[str], object] | None = None

    def is_staff(self, phone: str) -> bool:
        return phone in self.staff_numbers

    def handle_inbound(self, phone: str, inbound: Inbound, now: datetime,
                       message_sid: str | None = None, *,
                       origin: str | None = None) -> Handled:  # fmt: skip
        """One message in; replies out. A MessageSid seen before gets the same replies again.
        `origin` is a web visitor's client IP (caps on alerts nobody can call back)."""
        # A redelivered MessageSid is caught inside the patient's transaction (Store.update), in
        # the same round trip as the read; staff commands are idempotent (ACK twice: "already").
        if self.is_staff(phone):
            return Handled(self._staff(phone, inbound.text, now))

        def change(
            patient: Patient, pipe: Writes
        ) -> tuple[list[str], Patient | None, tuple[Effect, ...]]:
            # Every message, STOP and HELP too, reopens that channel (WhatsApp's window).
            step = advance_in(heard_from(patient, inbound.channel, now), inbound,
                              self.config.languages, now)  # fmt: skip
            replies = self._texts(step)
            self._queue_effects(pipe, step, now, origin)
            self.store.queue_save(pipe, step.patient)
            if not phone.startswith("web:"):
                for event in consent.changes(patient, step.patient, inbound, message_sid, now,
                                             self.consent_gate):  # fmt: skip
                    self.store.queue_consent(pipe, phone, event)
            if message_sid:
                self.store.queue_message_seen(pipe, message_sid, replies)
            moved = (patient.plan, patient.opted_out) != (step.patient.plan, step.patient.opted_out)
            return replies, step.patient if moved else None, step.effects

        invite = None
        if inbound.channel == "sms":  # only the invited number's own texts continue an invite
            invite = (keys.invite_pending(self.tag(phone)), self._resume_invite)
        result = self.store.update(phone, change, message_sid=message_sid, invite=invite)
        if isinstance(result, Seen):
            log.info("duplicate delivery from %s ignored", mask(phone))
            return Handled(result.replies, duplicate=True)
        replies, changed, effects = result
        # Only when the plan or the opt-out moved: most messages need no rescheduling.
        if changed is not None:
            for hook in self.after_change:
                hook(changed, now)
        for effect in effects:
            if isinstance(effect, InvitePlan):
                self._invite(phone, effect, now)
        log.debug("message from %s handled: %d replies", mask(phone), len(replies))
        return Handled(replies)

    def preview(
        self, patient: Patient, inbound: Inbound, now: datetime
    ) -> tuple[Patient, list[str], bool]:
        """What a message would do to a patient held outside the store (a web chat's cookie):
        the new state, the replies and whether it has effects. Writes nothing."""
        step = advance_in(patient, inbound, self.config.languages, now)
        return step.patient, self._texts(step), bool(step.effects)

    def _texts(self, step: Step) -> list[str]:
        channel = "web" if step.patient.phone.startswith("web:") else "sms"
        return self.renderer.messages(step.replies, channel, step.patient.lang)

    def _queue_effects(self, pipe: Writes, step: Step, now: datetime,
                       origin: str | None = None) -> None:  # fmt: skip
        patient = step.patient
        for effect in step.effects:
            if isinstance(effect, Alert):
                phone = effect.callback or patient.phone
                web = patient.phone.startswith("web:")
                channel = "web" if web else patient.conversation.channel
                if effect.callback and patient.phone.startswith("web:"):
                    # The number arrived: the numberless alert it completes stops escalating.
                    self.alerts.queue_supersede(pipe, patient.phone, now)
                ref = self.alerts.queue_create(pipe, level=effect.level, rule=effect.rule,
                                               phone=phone, channel=channel, now=now,
                                               origin=origin, lang=patient.lang or "")  # fmt: skip
                log.warning("alert %s (%s) raised for %s", ref, effect.level, mask(phone))
            elif isinstance(effect, TriageFinished):
                self.store.queue_triage(pipe, patient.phone, effect)
            elif isinstance(effect, OptedOut):
                log.info("%s opted out", mask(patient.phone))

    def _staff(self, phone: str, text: str, now: datetime) -> list[str]:
        command, ref = staff_command(text)
        if command == "ack" and ref:
            result, alert = self.alerts.ack(ref, phone, now)
            return [self.renderer.render(f"staff_ack_{result}", {"ref": ref, "alert": alert or {}})]
        if command == "open":
            return [self.alerts.open_summary()]
        if command == "start":  # Twilio passed on a staff phone's START: alerts reach it again
            restored = reach.restore(self.store.redis, phone)
            log.warning("staff number %s texted START: restored=%s", mask(phone), restored)
            return [self.renderer.render("staff_restored", {"restored": restored})]
        if command == "clear" and ref:
            return [self._clear_hold(ref, phone)]
        return [self.renderer.render("staff_help", {})]

    def _clear_hold(self, ref: str, staff_phone: str) -> str:
        """After talking to the patient, staff let a plan paused by a red flag resume."""
        alert = self.alerts.get(ref)
        # Only a red-flag alert from the patient's own phone: never a number a web visitor typed.
        red_flag = alert is not None and alert["level"] in ("emergency", "urgent", "priority_call")
        if alert is None or not red_flag or alert["channel"] == "web":
            return self.renderer.render("staff_ack_unknown", {"ref": ref, "alert": {}})

        def change(patient: Patient, pipe: Writes) -> bool:
            held = bool(patient.plan and patient.plan.get("hold"))
            if held:
                self.store.queue_save(pipe, release_hold(patient))
            return held

        held = self.store.update(alert["phone"], change)
        log.info("hold on %s cleared by %s: %s", mask(alert["phone"]), mask(staff_phone), held)
        return self.renderer.render(
            "staff_cleared", {"ref": ref.upper(), "alert": alert, "held": held}
        )

    def tag(self, phone: str) -> str:
        return self.store.tag(phone)

    def _invite(self, web_key: str, invite: InvitePlan, now: datetime) -> None:
        """Text the number a web visitor gave; their SMS reply with a time is the opt-in.
        Nothing is stored under that number until its owner replies: only a pending mark
        keyed by an HMAC of it, so a web visitor cannot create records about other people."""
        number = invite.number
        target = self.store.load(number)
        conv, plan = target.conversation, target.plan or {}
        busy = conv.in_questionnaire and conv.last_at and now - conv.last_at < self.playbook.expiry
        if target.opted_out or busy or plan.get("status") == "active":
            return
        tag = self.tag(number)
        if not self._invite_allowed(tag, now):
            return
        week = int(self.invite_limits.per_number.total_seconds())
        pipe = Writes()
        pending = {"at": now.isoformat(), "from": web_key, "answers": dict(invite.answers),
                   "lang": invite.lang}  # fmt: skip
        pipe.set(keys.invite_pending(tag), json.dumps(pending), ex=week)
        body = self.renderer.render("sms_reminder_invite", dict(invite.answers), "sms", invite.lang)
        outbox.queue(pipe, message_id=f"invite:{tag}:{int(now.timestamp()) // week}", to=number,
                     body=body, kind="notice")  # fmt: skip
        pipe.apply(self.store.redis)
        log.info("web visitor invited %s to SMS reminders", mask(number))

    def _invite_allowed(self, tag: str, now: datetime) -> bool:
        """One invite per number per week across every web session; a clinic-wide hourly cap."""
        r, limits = self.store.redis, self.invite_limits
        week = int(limits.per_number.total_seconds())
        fresh = _ONCE_PER([keys.invite_sent(tag)], [int(now.timestamp()), week, week + 86400],
                          client=r)  # fmt: skip
        if not fresh:
            log.info("web invite refused: that number was invited in the last week")
            return False
        hour = keys.invites_in_hour(int(now.timestamp()) // 3600)
        with r.pipeline() as pipe:
            pipe.incr(hour)
            pipe.expire(hour, 7200)
            count = int(pipe.execute()[0])
        if count > limits.per_hour:
            log.warning("web invite refused: %d invites this hour (cap %d)", count, limits.per_hour)
            return False
        return True

    def _resume_invite(self, patient: Patient, raw: str, pipe: Writes) -> Patient:
        """The invited number's first reply continues the invite as a reminder offer."""
        pipe.delete(keys.invite_pending(self.tag(patient.phone)))
        if patient.opted_out or patient.plan or patient.conversation.in_questionnaire:
            return patient
        pending = json.loads(raw)
        at = datetime.fromisoformat(pending["at"])
        # No last_at: the offer stands for the invite's week, not the conversation's expiry.
        offer = Conversation(step=REMINDER_OFFER, answers=dict(pending.get("answers") or {}),
                             started_at=at, outcome="exercises", channel="sms")  # fmt: skip
        return replace(patient, conversation=offer, lang=patient.lang or pending.get("lang"))

    def delivery_status(
        self, sid: str, status: str, code: int | None, reported_to: str, now: datetime
    ) -> str:
        """A Twilio status callback, for our own messages only (the recipient is the one we
        stored, never `reported_to`): forward-only; 30003 is retried once within the patient's
        allowed hours; a staff alert that failed is re-routed at once."""
        action = delivery.apply_status(self.store.redis, message_sid=sid, status=status,
                                       error_code=code, staff=self.staff_numbers,
                                       retry_later=lambda r: self._retry_30003(r, now),
                                       failed_alert=self._alert_failed,
                                       now=now.timestamp())  # fmt: skip
        if action is not delivery.StatusAction.NOTHING:
            log.info("delivery %s (code %s): %s", status, code, action.value)
        refused = action is delivery.StatusAction.GIVE_UP and code in WINDOW_CODES
        if refused and self.on_window_refusal is not None:
            self.on_window_refusal(sid)
        return str(action.value)

    def _alert_failed(self, request: delivery.RetryRequest) -> None:
        entry = Entry(request.message_id, request.to, request.body, "alert",
                      lane=Lane.STAFF)  # fmt: skip
        self.alerts.reroute(entry, "was not delivered")

    def _retry_30003(self, request: delivery.RetryRequest, now: datetime) -> None:
        """Once, 30 minutes later; a reminder only inside the allowed hours of the patient's
        own plan time zone, and only the same local day."""
        clinic = self.config.clinic
        if request.kind == "alert":  # staff alerts do not wait for the morning
            outbox.enqueue(self.store.redis, message_id=request.message_id, to=request.to,
                           body=request.body, kind=request.kind, lane=Lane.STAFF,
                           not_before=(now + RETRY_30003_AFTER).timestamp())  # fmt: skip
            return
        zone = self._zone_of(reach.bare(request.to))
        when = next_allowed(now + RETRY_30003_AFTER, zone, clinic.quiet_start, clinic.quiet_end)
        # A reminder is about today: its retry is dropped rather than sent tomorrow morning.
        today_end = local_instant(local_date(now, zone), clinic.quiet_end, zone).timestamp() + 59
        deadline = today_end if request.kind == "reminder" else None
        outbox.enqueue(self.store.redis, message_id=request.message_id, to=request.to,
                       body=request.body, kind=request.kind, not_before=when.timestamp(),
                       not_after=deadline, content=request.content, alt=request.alt)  # fmt: skip

    def _zone_of(self, phone: str) -> str:
        """The patient's plan time zone (what they chose), else a guess from the number."""
        plan = self.store.load(phone).plan or {}
        zone = plan.get("zone")
        return (
            zone
            if isinstance(zone, str) and zone
            else zone_for_number(phone, self.config.clinic.time_zone)
        )

    def export(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """Finished triages; a home-program record carries the patient's PSFS scores."""
        records = list(self.store.triages(since))
        for record in records:
            plan = (
                self.store.load(record["phone"]).plan if record["outcome"] == "exercises" else None
            )
            record.update(psfs_export(dict(plan) if plan else None))
        return records
