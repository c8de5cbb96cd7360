"""The pure routing core: WhatsApp's window, the last-used channel, the fallbacks in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.channels import (
    Route,
    heard_from,
    last_channel,
    plan_route,
    proactive_kind,
    window_open,
)
from bot.core.model import Patient

NOW = datetime(2026, 6, 10, 16, tzinfo=UTC)
H = timedelta(hours=1)


def person(**last: timedelta) -> Patient:
    """A patient who last wrote on each channel that long before NOW."""
    return Patient(
        "+13105551234", last_inbound={channel: NOW - ago for channel, ago in last.items()}
    )


@pytest.mark.parametrize(
    ("patient", "has_template", "route", "fallbacks"),
    [
        (person(), True, Route.SMS, ()),  # never wrote (a web invite): SMS
        (person(sms=2 * H), True, Route.SMS, ()),
        (person(whatsapp=2 * H), True, Route.WHATSAPP, (Route.TEMPLATE,)),
        (person(whatsapp=2 * H), False, Route.WHATSAPP, ()),
        (person(whatsapp=2 * H, sms=50 * H), True, Route.WHATSAPP, (Route.TEMPLATE, Route.SMS)),
        (person(whatsapp=24 * H), True, Route.TEMPLATE, ()),  # the window is 24 hours, not 24 h 1 s
        (person(whatsapp=23.9 * H), True, Route.TEMPLATE, ()),  # closing: the route that lasts
        (person(whatsapp=23.9 * H), False, Route.WHATSAPP, ()),  # closing, but nothing else
        (person(whatsapp=23.9 * H, sms=30 * H), False, Route.SMS, ()),
        (person(whatsapp=60 * H, sms=90 * H), True, Route.TEMPLATE, (Route.SMS,)),
        (person(whatsapp=60 * H, sms=90 * H), False, Route.SMS, ()),
        (person(whatsapp=60 * H), False, Route.DROP, ()),
        (person(whatsapp=90 * H, sms=60 * H), False, Route.SMS, ()),  # SMS was the last used
    ],
)  # fmt: skip
def test_routes(
    patient: Patient, has_template: bool, route: Route, fallbacks: tuple[Route, ...]
) -> None:
    planned = plan_route(patient, NOW, has_template=has_template)
    assert (planned.route, planned.fallbacks) == (route, fallbacks)


def test_an_opted_out_person_has_no_sms_consent_to_fall_back_on() -> None:
    stopped = Patient("+13105551234", opted_out=True,
                      last_inbound={"whatsapp": NOW - 60 * H, "sms": NOW - 90 * H})  # fmt: skip
    assert plan_route(stopped, NOW, has_template=False).route is Route.DROP


def test_any_message_opens_the_window_and_web_chat_is_not_a_channel() -> None:
    patient = heard_from(person(whatsapp=60 * H), "whatsapp", NOW)
    assert window_open(patient, NOW + 23 * H) and not window_open(patient, NOW + 24 * H)
    assert heard_from(patient, "web", NOW + H) == patient
    assert last_channel(heard_from(patient, "sms", NOW + H)) == "sms"


def test_the_plan_message_names_the_template_kind() -> None:
    assert proactive_kind(["plan_nudge"], "reminder") == "nudge"
    assert proactive_kind(["plan_checkin"], "reminder") == "checkin"
    assert proactive_kind(["plan_end", "plan_offer_call"], "reminder") == "plan_end"
    assert proactive_kind(["something_new"], "reminder") == "reminder"


@given(
    whatsapp_ago=st.one_of(st.none(), st.integers(0, 200 * 3600)),
    sms_ago=st.one_of(st.none(), st.integers(0, 200 * 3600)),
    has_template=st.booleans(),
)
def test_never_free_form_outside_the_window_nor_sms_without_consent(
    whatsapp_ago: int | None, sms_ago: int | None, has_template: bool
) -> None:
    seen = {name: NOW - timedelta(seconds=ago)
            for name, ago in (("whatsapp", whatsapp_ago), ("sms", sms_ago)) if ago is not None}  # fmt: skip
    patient = Patient("+13105551234", last_inbound=seen)
    planned = plan_route(patient, NOW, has_template=has_template)
    routes = (planned.route, *planned.fallbacks)
    if planned.route is Route.WHATSAPP:
        assert window_open(patient, NOW)
    if Route.TEMPLATE in routes:
        assert has_template
    if Route.SMS in routes:
        assert "sms" in seen or not seen  # texted by SMS, or never wrote at all (an SMS invite)
    if planned.route is Route.DROP:
        assert "sms" not in seen and not has_template and not window_open(patient, NOW)
    assert len(set(routes)) == len(routes)  # each route tried at most once


def test_template_values_are_what_whatsapp_accepts() -> None:
    from bot.whatsapp_config import Template

    t = Template("reminder", "en", "HX" + "a" * 32, "Day {{1}} of {{2}} from {{3}}.",
                 (("1", "day"), ("2", "days"), ("3", "clinic_name")))  # fmt: skip
    values = t.values({"day": 3, "days": None, "clinic_name": "Impact\n  PT\t"})
    assert values == {"1": "3", "2": "-", "3": "Impact PT"}
    assert t.values({})["1"] == "-"  # an empty value would be refused
    assert (
        t.text({"day": 3, "days": 21, "clinic_name": "Impact PT"}) == "Day 3 of 21 from Impact PT."
    )


def test_two_messages_in_the_same_instant_the_later_channel_wins() -> None:
    both = heard_from(heard_from(person(), "whatsapp", NOW), "sms", NOW)
    assert last_channel(both) == "sms"
    assert last_channel(heard_from(both, "whatsapp", NOW)) == "whatsapp"
