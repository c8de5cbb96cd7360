"""Staff alerts from a conversation: once per level per hour; web visitors give a number."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, time, timedelta

import phonenumbers

from bot.core import times
from bot.core.model import DONE, Alert, InvitePlan, Patient, Playbook, Reply, Step
from bot.errors import AnswerError

WEB_TIME = "reminder_time"  # the time a web visitor chose for SMS reminders
ALERT_REPEAT = timedelta(hours=1)  # the same kind of alert again after this is a new alert


def raise_alert(patient: Patient, level: str, rule: str, now: datetime) -> Step:
    """Alert staff, once per level within ALERT_REPEAT; a web visitor is asked for a number.

    Emergency and urgent alerts from the web go out at once without a number (staff see it in
    `bot alerts`); the number, once typed, goes out in a second alert of the same level.
    """
    conv = patient.conversation
    if any(_recent(entry, level, now) for entry in conv.alerted):
        return Step(patient)
    conv = replace(conv, alerted=(*_fresh(conv.alerted, now), f"{level}@{now.isoformat()}"))
    if not patient.phone.startswith("web:") or conv.callback:
        return Step(replace(patient, conversation=conv), (), (Alert(level, rule, conv.callback),))
    now_alert = (Alert(level, rule),) if level in ("emergency", "urgent") else ()
    held = conv.held if (level, rule) in conv.held else (*conv.held, (level, rule))
    conv = replace(conv, held=held)
    return Step(replace(patient, conversation=conv), (Reply("ask_callback_number"),), now_alert)


def _recent(entry: str, level: str, now: datetime) -> bool:
    name, _, when = entry.partition("@")
    return name == level and bool(when) and now - datetime.fromisoformat(when) < ALERT_REPEAT


def _fresh(alerted: tuple[str, ...], now: datetime) -> tuple[str, ...]:
    """Only the entries still inside the repeat window are worth keeping."""
    return tuple(e for e in alerted if _recent(e, e.partition("@")[0], now))


def callback_reply(patient: Patient, text: str, word: str | None, book: Playbook) -> Step | None:
    """A web visitor's answer to 'which number can we call?', or None when it is something else."""
    conv = patient.conversation
    if word in ("no", "nope", "n"):
        declined = replace(conv, held=())
        return Step(replace(patient, conversation=declined), (Reply("callback_declined"),))
    number = callback_number(text, book.default_region)
    if number is None:
        looks_like_number = sum(ch.isdigit() for ch in text) >= 7
        return Step(patient, (Reply("callback_number_invalid"),)) if looks_like_number else None
    alerts = tuple(Alert(level, rule, number) for level, rule in conv.held)
    done = replace(conv, callback=number, held=())
    return Step(
        replace(patient, conversation=done),
        (Reply("callback_number_thanks", {"number": number}),),
        alerts,
    )


def web_offer(patient: Patient, text: str, word: str | None, book: Playbook) -> Step:
    """On the web, reminders go by SMS: ask for the number and the time (once), then that number
    opts in by replying YES to our text."""
    conv = patient.conversation
    if word in ("no", "nope", "n", "nah"):
        return Step(
            replace(patient, conversation=replace(conv, step=DONE)), (Reply("plan_declined"),)
        )
    typed, rest = _number_and_rest(text, book.default_region)
    number = typed or conv.callback
    at = _time_in(rest, book) or _time_in(str(conv.answers.get(WEB_TIME, "")), book)
    moved = None
    if at is not None:  # a time outside the reminder hours gets the nearest, and says so
        at, moved = times.nearest_allowed(at, *book.reminder_hours)
    said = {"moved": moved, "earliest": times.describe_time(book.reminder_hours[0]),
            "latest": times.describe_time(book.reminder_hours[1]),
            "time": None if at is None else times.describe_time(at)}  # fmt: skip
    if number is None and at is not None:  # the time first: keep it, ask for the number
        kept = replace(conv, answers={**conv.answers, WEB_TIME: times.hhmm(at)})
        ask = Reply("web_reminder_offer_reprompt", said)
        return Step(replace(patient, conversation=kept), (ask,))
    if (
        number is None
        or phonenumbers.region_code_for_number(phonenumbers.parse(number)) != book.default_region
    ):  # reminders are texted only to numbers in the clinic's country
        return Step(patient, (Reply("web_reminder_offer_reprompt", {"time": None}),))
    if at is None:
        asked = replace(conv, callback=number)
        return Step(replace(patient, conversation=asked), (Reply("web_reminder_ask_time"),))
    done = replace(conv, step=DONE, callback=conv.callback or number)
    # No health answers go to that number's record until its owner opts in by text.
    when = {WEB_TIME: times.hhmm(at), "reminder_time_text": said["time"], "web_invite": True}
    return Step(
        replace(patient, conversation=done),
        (Reply("web_reminders_texted", {**said, "number": number}),),
        (InvitePlan(number, when, patient.lang),),
    )


def _time_in(text: str, book: Playbook) -> time | None:
    if not text.strip():
        return None
    try:
        return times.parse_time_of_day(text, book.time_words, window=book.reminder_hours)
    except AnswerError:
        return None


_PHONE_LIKE = re.compile(r"\+?\(?\d[\d\s().-]{5,}\d")


def _number_and_rest(text: str, region: str) -> tuple[str | None, str]:
    """A phone number typed anywhere in the text, and the text without it ('949 555 0123 at
    6pm' -> '+19495550123', 'at 6pm')."""
    if (number := callback_number(text, region)) is not None:
        return number, ""
    for match in _PHONE_LIKE.finditer(text):
        if (number := callback_number(match.group(), region)) is not None:
            rest = (text[: match.start()] + " " + text[match.end() :]).replace(" at ", " ")
            return number, rest.strip()
    return None, text


# A person's own phone: never premium-rate, toll-free, shared-cost, pager or VoIP numbers that
# a web visitor could type to make the clinic call or text them at a cost.
ORDINARY = frozenset({phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE,
                      phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE})  # fmt: skip


def callback_number(text: str, region: str) -> str | None:
    """A valid mobile or fixed-line number in the clinic's country typed by a person, in
    E.164, or None."""
    try:
        parsed = phonenumbers.parse(text.strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    if phonenumbers.region_code_for_number(parsed) != region:
        return None
    if phonenumbers.number_type(parsed) not in ORDINARY:
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
