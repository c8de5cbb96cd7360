"""Conversations through the signed Twilio webhook, as a person would have them."""

from __future__ import annotations

from typing import Any

import phonenumbers
from hypothesis import given
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from bot import keys, outbox
from bot.runtime import Runtime
from bot.twilio_webhook import sender_of
from tests.conftest import TOKEN, Clock, Phone, answers_with


def answer_all(phone: Phone, path: list[tuple[str, str]]) -> None:
    phone.send("Hi, my knee hurts when I run")
    for _, text in path:
        phone.send(text)


def staff_messages(rt: Runtime) -> list[dict[str, str]]:
    return [fields for fields in outbox.queued(rt.redis)]


def test_first_message_greets_and_asks_consent(phone: Phone) -> None:
    phone.send("hello?")
    assert phone.status == 200
    assert "Impact Physical Therapy and Performance" in phone.said
    assert "not medical advice" in phone.said and "911" in phone.said
    assert "STOP" in phone.said and "HELP" in phone.said
    assert "Y or N" in phone.last_reply


def test_exercises_outcome_sends_the_program_and_offers_reminders(
    phone: Phone, runtime: Runtime
) -> None:
    answer_all(phone, answers_with())
    said = phone.said
    assert "home ankle program" in said
    for name in ("Calf release", "Knee-to-wall ankle rocks", "Ankle mobilization with a band"):
        assert name in said
    assert "3 rounds of 60 s per calf" in said
    assert "(949) 409-1339" in said  # no video URL configured yet: the phone instead
    assert "Reply a time like 8am" in phone.last_reply and "NO" in phone.last_reply
    assert staff_messages(runtime) == []  # exercises raise no alert


def test_emergency_stops_at_once_and_alerts_every_on_call_number(
    phone: Phone, runtime: Runtime
) -> None:
    phone.send("hi")
    phone.send("yes")
    phone.send("1")
    assert "call 911 now" in phone.last_reply
    sent = staff_messages(runtime)
    assert sorted(m["to"] for m in sent) == ["+19495550101", "+19495550102"]
    assert all("EMERGENCY" in m["body"] and "+19495551234" in m["body"] for m in sent)
    assert all("chest" not in m["body"] for m in sent)  # minimum necessary: no symptoms
    phone.send("0")
    assert "RESTART" in phone.last_reply  # the questionnaire does not go on


def test_urgent_after_injury_at_55(phone: Phone, runtime: Runtime) -> None:
    phone.send("hi")
    for text in ("y", "0", "55", "yes"):
        phone.send(text)
    assert "medical care today" in phone.last_reply  # no injury-signs question: already urgent
    assert "exercise" not in phone.last_reply.lower().replace("not home exercises", "")
    assert {m["to"] for m in staff_messages(runtime)} == {"+19495550101", "+19495550102"}


def test_priority_call(phone: Phone, runtime: Runtime) -> None:
    phone.send("hi")
    for text in ("y", "0", "40", "n", "0", "3"):
        phone.send(text)
    assert "within one business day" in phone.last_reply
    assert "PRIORITY_CALL" in staff_messages(runtime)[0]["body"]


def test_book_call_gives_link_phone_and_a_lead_to_one_staff_member(
    phone: Phone, runtime: Runtime
) -> None:
    answer_all(phone, answers_with(pain_run="8"))
    assert "impactptandperformance.com/book" in phone.last_reply
    assert "(949) 409-1339" in phone.last_reply
    assert "6/10 or more" in phone.last_reply
    leads = staff_messages(runtime)
    assert [m["to"] for m in leads] == ["+19495550101"]
    assert "LEAD" in leads[0]["body"]


def test_consent_no_ends_politely(phone: Phone) -> None:
    phone.send("hi")
    phone.send("no thanks")
    assert "(949) 409-1339" in phone.last_reply and "book" in phone.last_reply


def test_invalid_answers_reprompt_then_offer_a_call(phone: Phone, runtime: Runtime) -> None:
    phone.send("hi")
    phone.send("y")
    phone.send("0")
    phone.send("very old")
    assert "one number from 5 to 110" in phone.last_reply
    phone.send("200")
    assert "5 to 110" in phone.last_reply
    phone.send("🙂")
    assert "asked our team to call you" in phone.said
    assert "How old are you" in phone.last_reply
    assert [m["to"] for m in staff_messages(runtime)] == ["+19495550101"]
    assert "CALLBACK" in staff_messages(runtime)[0]["body"]
    phone.send("45")
    assert "fall, twist" in phone.last_reply  # the answer still counts


def test_bad_input_never_breaks_or_loses_state(phone: Phone, runtime: Runtime) -> None:
    phone.send("hi")
    phone.send("y")
    for junk in ("", "\x00\x00", "x" * 2000, "🦵🦵🦵", "{{7*7}}", "<b>hi</b>", "\u202eevil"):
        phone.send(junk)
        assert phone.status == 200
        assert "49" not in phone.said
    phone.send("", NumMedia="1", MediaUrl0="https://example.com/x.jpg")
    assert "only read text" in phone.last_reply
    phone.send("0")
    assert "How old are you" in phone.last_reply


def test_help_stop_start(phone: Phone, runtime: Runtime) -> None:
    phone.send("hi")
    phone.send("HELP")
    assert "(949) 409-1339" in phone.replies[0] and "STOP" in phone.replies[0]
    assert "rates may apply" in phone.replies[0]
    assert "Y or N" in phone.last_reply  # and the question again, so the person can go on
    phone.send("Stop.")
    assert "unsubscribed" in phone.last_reply
    assert runtime.redis.sismember(keys.OPTED_OUT, phone.number)
    phone.send("hello?")
    assert phone.replies == []  # nothing more is ever sent until START
    phone.send("HELP")
    assert phone.replies == []
    phone.send("START")
    assert "opted back in" in phone.last_reply
    assert not runtime.redis.sismember(keys.OPTED_OUT, phone.number)


def test_restart_and_human(phone: Phone, runtime: Runtime) -> None:
    phone.send("hi")
    phone.send("y")
    phone.send("restart")
    assert "Starting over" in phone.said and "Y or N" in phone.last_reply
    phone.send("HUMAN")
    assert "will call you" in phone.last_reply
    assert len(staff_messages(runtime)) == 1


def test_emergency_free_text_mid_questionnaire(phone: Phone, runtime: Runtime) -> None:
    phone.send("hi")
    phone.send("y")
    phone.send("0")
    phone.send("Actually I have chest pain and I can't breathe well")
    assert "call 911 now" in phone.last_reply
    assert len(staff_messages(runtime)) == 2


def test_conversation_expires_after_24h(phone: Phone, clock: Clock) -> None:
    phone.send("hi")
    phone.send("y")
    clock.advance(hours=25)
    phone.send("0")
    assert "start over" in phone.said
    assert "Y or N" in phone.last_reply


def test_whatsapp_works_the_same(app: Any, runtime: Runtime) -> None:
    wa = Phone(app.test_client(), "whatsapp:+19495554321")
    wa.send("hi")
    assert "Y or N" in wa.last_reply
    wa.send("y")
    wa.send("1")
    assert "911" in wa.last_reply
    assert any("(whatsapp)" in m["body"] for m in staff_messages(runtime))


def test_redelivered_message_sid_does_not_advance(phone: Phone, runtime: Runtime) -> None:
    phone.send("hi")
    phone.send("y", sid="SMdup0001")
    first = list(phone.replies)
    phone.send("y", sid="SMdup0001")
    assert phone.replies == first
    state = runtime.store.load(phone.number)
    assert state.conversation.step == "red_flags"


def test_unsigned_forged_and_tampered_requests_get_403_and_change_nothing(
    phone: Phone, runtime: Runtime
) -> None:
    params = phone.params("hi")
    assert phone.post(params, None).status_code == 403
    assert phone.post(params, "bm90IGEgc2lnbmF0dXJl").status_code == 403
    signature = RequestValidator(TOKEN).compute_signature(phone.url, params)
    tampered = {**params, "Body": "1"}
    assert phone.post(tampered, signature).status_code == 403
    wrong_key = RequestValidator("another-token").compute_signature(phone.url, params)
    assert phone.post(params, wrong_key).status_code == 403
    assert runtime.redis.keys("*") == []


def test_no_auth_token_rejects_everything_outside_embedded_mode(
    settings: Any, runtime: Runtime
) -> None:
    from dataclasses import replace

    from bot.web import create_app

    app = create_app(replace(settings, twilio_auth_token=None), runtime=runtime)
    response = app.test_client().post("/twilio/sms", data={"From": "+19495551234", "Body": "hi"})
    assert response.status_code == 403


def test_health_and_readiness(app: Any) -> None:
    client = app.test_client()
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


def test_start_after_a_carrier_opt_out_does_not_resume_the_old_plan(
    phone: Phone, runtime: Runtime
) -> None:
    answer_all(phone, answers_with())
    phone.send("6pm")
    assert runtime.store.load(phone.number).plan is not None
    runtime.redis.sadd(keys.OPTED_OUT, phone.number)  # what a 21610 from Twilio does
    phone.send("START")
    assert "opted back in" in phone.last_reply
    assert runtime.store.load(phone.number).plan is None


def test_a_plus_lost_to_form_encoding_still_reads_as_the_number(app: Any) -> None:
    by_hand = Phone(app.test_client(), " 19495551234")  # curl -d From=+1949... sends a space
    by_hand.send("hello")
    assert "Y or N" in by_hand.last_reply


@given(st.from_regex(r"\A\+1[2-9][0-9]{9}\Z"), st.sampled_from(["", "whatsapp:"]))
def test_a_north_american_sender_skips_parsing_and_agrees_with_phonenumbers(
    number: str, prefix: str
) -> None:
    parsed = phonenumbers.parse(number, None)
    expected = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    assert sender_of(prefix + number) == (expected, "whatsapp" if prefix else "sms")


def test_other_senders_are_parsed_into_e164() -> None:
    assert sender_of("+33 6 12 34 56 78") == ("+33612345678", "sms")
    assert sender_of("+330612345678") == ("+33612345678", "sms")  # the trunk 0 goes
    assert sender_of(" 19495551234") == ("+19495551234", "sms")  # "+" form-decoded to a space
    assert sender_of("whatsapp:+447911123456") == ("+447911123456", "whatsapp")
    assert sender_of("not a number") is None
    assert sender_of("+12٣٤٥٦٧٨٩٠١") == ("+12345678901", "sms")  # other scripts' digits: parsed
