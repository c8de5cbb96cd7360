"""One person across SMS and WhatsApp: the WhatsApp 24-hour window and each message's route; pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.model import Patient

SMS, WHATSAPP = "sms", "whatsapp"
WINDOW = timedelta(hours=24)  # WhatsApp's customer service window after a person's message
# A message decided this close to the window's end may be sent after it (the outbox's backlog,
# the send rate): it takes the route that lasts (template, SMS) when there is one.
CLOSING = timedelta(minutes=10)
# Proactive message kinds that need an approved WhatsApp template outside the window, with the
# values each one can fill its template's variables with.
CLINIC_VARIABLES = ("clinic_name", "clinic_phone", "booking_url")
PROACTIVE: Mapping[str, tuple[str, ...]] = {
    "reminder": (*CLINIC_VARIABLES, "day", "days"),
    "checkin": CLINIC_VARIABLES,
    "nudge": (*CLINIC_VARIABLES, "day", "days"),
    "plan_end": (*CLINIC_VARIABLES, "days", "done", "planned"),
    "staff_reply": CLINIC_VARIABLES,
}


# The plan's message templates (templates/sms/) -> the proactive kind each one is.
KIND_OF_TEMPLATE: Mapping[str, str] = {"reminder": "reminder", "plan_checkin": "checkin",
                                       "plan_nudge": "nudge", "plan_end": "plan_end"}  # fmt: skip


def proactive_kind(templates: Sequence[str], default: str) -> str:
    """Which approved template a message needs: the kind of its first known template."""
    return next((KIND_OF_TEMPLATE[t] for t in templates if t in KIND_OF_TEMPLATE), default)


class Route(StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"  # free-form, inside the window
    TEMPLATE = "template"  # WhatsApp, as the kind's approved template
    DROP = "drop"  # no way to reach the person that they agreed to


def heard_from(patient: Patient, channel: str, now: datetime) -> Patient:
    """Record a message from the person on `channel` (any message: STOP and HELP too)."""
    if channel not in (SMS, WHATSAPP):
        return patient
    others = {k: v for k, v in patient.last_inbound.items() if k != channel}
    return replace(patient, last_inbound={**others, channel: now})  # the latest one last


def last_channel(patient: Patient) -> str:
    """The channel the person used last; SMS for someone who never wrote (a web invite)."""
    latest, when = SMS, None
    for channel, at in patient.last_inbound.items():  # on a tie, the one recorded last
        if when is None or at >= when:
            latest, when = channel, at
    return latest


def window_open(patient: Patient, now: datetime, window: timedelta = WINDOW) -> bool:
    """True while a free-form WhatsApp message may still be sent to the person."""
    last = patient.last_inbound.get(WHATSAPP)
    return last is not None and now - last < window


def sms_consented(patient: Patient) -> bool:
    """The person texted the clinic by SMS (and is not opted out: STOP stops every channel)."""
    return SMS in patient.last_inbound and not patient.opted_out


@dataclass(frozen=True)
class Plan:
    """How one proactive message goes: first `route`, then `fallbacks` in order when WhatsApp
    refuses it as outside the window (the window closed between deciding and sending)."""

    route: Route
    fallbacks: tuple[Route, ...] = ()


def plan_route(patient: Patient, now: datetime, *, has_template: bool,
               window: timedelta = WINDOW) -> Plan:  # fmt: skip
    """The route for a proactive message: the channel the person used last; on WhatsApp,
    free-form inside the window (unless it is closing and another route exists), else the
    approved template, else SMS when they texted by SMS too, else nothing."""
    if last_channel(patient) == SMS:
        return Plan(Route.SMS)
    later = ((Route.TEMPLATE,) if has_template else ()) + (
        (Route.SMS,) if sms_consented(patient) else ()
    )
    closing = not window_open(patient, now + CLOSING, window)
    if window_open(patient, now, window) and not (closing and later):
        return Plan(Route.WHATSAPP, later)
    if later:
        return Plan(later[0], later[1:])
    return Plan(Route.DROP)
