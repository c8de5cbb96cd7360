"""Proactive messages to a person: the channel they used last, WhatsApp's 24-hour window, approved
templates, and the fallback when WhatsApp refuses a message as outside the window."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot import keys, outbox
from bot.config_schema import Clinic
from bot.core.channels import PROACTIVE, Route, plan_route
from bot.core.model import Patient
from bot.outbox import Entry, bare
from bot.privacy import mask
from bot.store import Redis, Store
from bot.twilio_sender import SendResult
from bot.whatsapp_config import WhatsAppSetup
from bot.writes import Writes

log = logging.getLogger(__name__)
# "Outside the allowed window" (WhatsApp 63016; Messenger's 24-hour rule reports the same code).
WINDOW_CODES = frozenset({63016})
UNDELIVERED_TTL = timedelta(days=365)
Hop = dict[str, str]  # the outbox fields that change from one route to the next: to, body, content
WHY_DROPPED = {
    "no_template_no_sms": "outside the WhatsApp window, with no approved template for it and no "
    "SMS consent",
    "outside_window": "WhatsApp refused it as outside the 24-hour window and no other route is "
    "left (no approved template, no SMS consent)",
}


def quick_reply(form: Mapping[str, str]) -> str | None:
    """A tapped WhatsApp quick-reply button sends its id as ButtonPayload (its label as Body and
    ButtonText): the id is the keyword the template was built with (config/whatsapp.yaml checks
    that), read like a typed answer. An id that is not a word (a template made elsewhere) is
    ignored, and the label the person saw is read instead."""
    payload = (form.get("ButtonPayload") or "").strip()
    return payload if payload.isalpha() and len(payload) <= 20 else None


class Outreach:
    """Queues proactive messages (reminders, check-ins, nudges, end of plan, staff replies) by
    the route the person can be reached on, and reroutes them when WhatsApp refuses."""

    def __init__(self, store: Store, setup: WhatsAppSetup, clinic: Clinic,
                 clock: Callable[[], datetime]) -> None:  # fmt: skip
        self.store = store
        self.redis: Redis = store.redis
        self.clock = clock
        self.setup = setup
        self.clinic = clinic
        self.window = timedelta(hours=setup.window_hours)

    def values(self, context: Mapping[str, Any]) -> dict[str, Any]:
        clinic = {"clinic_name": self.clinic.short_name, "clinic_phone": self.clinic.phone_display,
                  "booking_url": self.clinic.booking_url}  # fmt: skip
        return {**clinic, **context}

    def queue(self, pipe: Writes, patient: Patient, *, kind: str, message_id: str,
              texts: Sequence[str], context: Mapping[str, Any], now: datetime,
              not_after: float | None = None) -> Route:  # fmt: skip
        """Queue one proactive message in the patient's transaction; returns the route taken."""
        assert kind in PROACTIVE, kind
        lang = patient.lang or self.clinic.languages.default  # None until their language is known
        template = self.setup.template(kind, lang)
        route = plan_route(patient, now, has_template=template is not None, window=self.window)
        if route.route is Route.DROP:
            self.queue_drop(pipe, patient.phone, kind, "no_template_no_sms", now)
            return Route.DROP
        if route.route is Route.SMS and len(texts) > 1:  # SMS keeps its parts as separate texts
            for index, text in enumerate(texts):
                outbox.queue(pipe, message_id=f"{message_id}:{index}", to=bare(patient.phone),
                             body=text, kind=_outbox_kind(kind), not_after=not_after)  # fmt: skip
            return Route.SMS
        values = self.values(context)
        first, *rest = [self._hop(r, patient.phone, texts, values, kind, lang)
                        for r in (route.route, *route.fallbacks)]  # fmt: skip
        outbox.queue(pipe, message_id=f"{message_id}:0", to=first["to"], body=first["body"],
                     kind=_outbox_kind(kind), not_after=not_after, content=first.get("content"),
                     alt=json.dumps(rest) if rest else None)  # fmt: skip
        return route.route

    def queue_staff_reply(self, pipe: Writes, phone: str, message_id: str, body: str) -> None:
        """A message staff send a patient (the callback notice on ACK; a future console)."""
        self.queue(pipe, self.store.load(phone), kind="staff_reply", message_id=message_id,
                   texts=[body], context={}, now=self.clock())  # fmt: skip

    def _hop(self, route: Route, phone: str, texts: Sequence[str], values: Mapping[str, Any],
             kind: str, lang: str) -> Hop:  # fmt: skip
        if route is Route.SMS:
            return {"to": bare(phone), "body": "\n\n".join(texts)}
        if route is Route.WHATSAPP:
            return {"to": f"whatsapp:{bare(phone)}", "body": "\n\n".join(texts)}
        template = self.setup.template(kind, lang)
        assert template is not None
        return {"to": f"whatsapp:{bare(phone)}", "body": template.text(values),
                "content": template.content(values)}  # fmt: skip

    # --- when WhatsApp refuses a message as outside the window ---
    def reroute(self, entry: Entry, result: SendResult) -> Entry | None:
        """The outbox's hook for a refused send: the next route, or None (counted when the
        window refused it and nothing is left)."""
        if result.error_code not in WINDOW_CODES:
            return None
        following = entry.next_route()
        if following is None:
            self.record_drop(entry, "outside_window")
        else:
            log.info("outbox: %s to %s outside the WhatsApp window: sending as %s",
                     entry.message_id, mask(entry.to), _how(following))  # fmt: skip
        return following

    def refused_after_send(self, message_sid: str) -> bool:
        """A status callback said a sent message failed as outside the window: queue the next
        route once (its id marks it), or count the drop. True if something was queued."""
        info = {keys.text(k): keys.text(v)
                for k, v in self.redis.hgetall(keys.delivery(message_sid)).items()}  # fmt: skip
        if not info.get("message_id") or "body" not in info:
            return False
        entry = Entry(info["message_id"], info["to"], info["body"], info.get("kind", ""),
                      content=info.get("content") or None, alt=info.get("alt") or None)  # fmt: skip
        following = entry.next_route()
        if following is None:
            self.record_drop(entry, "outside_window")
            return False
        outbox.enqueue(self.redis, message_id=f"{entry.message_id}:{_how(following)}",
                       to=following.to, body=following.body, kind=following.kind,
                       content=following.content, alt=following.alt)  # fmt: skip
        return True

    # --- counting what could not be delivered (the staff view shows it) ---
    def queue_drop(self, pipe: Writes, phone: str, kind: str, reason: str, now: datetime) -> None:
        log.warning("%s to %s dropped: %s", kind, mask(phone), WHY_DROPPED.get(reason, reason))
        key = keys.undelivered(bare(phone))
        pipe.hincrby(key, "count", 1)
        pipe.hset(key, mapping={"last_kind": kind, "last_at": now.isoformat(),
                                "last_reason": reason})  # fmt: skip
        pipe.expire(key, UNDELIVERED_TTL)

    def record_drop(self, entry: Entry, reason: str) -> None:
        writes = Writes()
        self.queue_drop(writes, entry.to, entry.kind, reason, self.clock())
        writes.apply(self.redis)


def _how(entry: Entry) -> str:
    return "template" if entry.content else ("whatsapp" if entry.to.startswith("whatsapp:")
                                             else "sms")  # fmt: skip


def _outbox_kind(kind: str) -> str:
    """Outbox kinds: reminders keep their same-day deadline and retry policy; the rest notices."""
    return "reminder" if kind in ("reminder", "checkin", "plan_end", "nudge") else "notice"
