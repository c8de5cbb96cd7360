"""Issue 10's decision rules as conversations: the red-flag net at every step, confirmations,
callback and opt-out intent, and "not sure" guidance that points to the safe answer."""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

import pytest

from bot import outbox
from bot.core.understanding import understand
from bot.runtime import Runtime
from tests.conftest import EXERCISES_PATH, Phone, answers_with

STAFF = "+19495550101"


def staff_alerts(rt: Runtime) -> list[str]:
    return [f["body"] for f in outbox.queued(rt.redis) if f["to"] == STAFF]


def answer_up_to(phone: Phone, question: str) -> None:
    phone.send("hi")
    for qid, text in EXERCISES_PATH:
        if qid == question:
            return
        phone.send(text)


@pytest.mark.parametrize(
    ("text", "level", "advice"),
    [("hi, my chest feels tight and heavy since this morning", "EMERGENCY", "911"),
     ("hello, my left calf is puffy and hot, is that bad?", "URGENT", "medical care today")],
)  # fmt: skip
def test_a_red_flag_in_the_first_message_is_acted_on_at_once(
    phone: Phone, runtime: Runtime, text: str, level: str, advice: str
) -> None:
    phone.send(text)
    assert advice in phone.said and "Shall we start" not in phone.said
    assert any(level in body for body in staff_alerts(runtime))
    phone.send("no")  # declining anything now cannot drop what staff already know
    assert len(staff_alerts(runtime)) == 1


def test_a_red_flag_while_declining_consent_is_not_dropped(phone: Phone, runtime: Runtime) -> None:
    phone.send("hi")
    phone.send("no thanks. my calf is really swollen though")
    assert "medical care today" in phone.said
    assert any("URGENT" in body for body in staff_alerts(runtime))


@pytest.mark.parametrize("question", ["age", "location", "ktw"])
def test_a_red_flag_mid_questionnaire_ends_it_at_once(
    phone: Phone, runtime: Runtime, question: str
) -> None:
    answer_up_to(phone, question)
    phone.send("sorry, I can't catch my breath right now")
    assert "911" in phone.said
    assert any("EMERGENCY" in body for body in staff_alerts(runtime))


def test_a_leading_zero_does_not_hide_a_warm_swollen_calf(phone: Phone, runtime: Runtime) -> None:
    answer_up_to(phone, "red_flags")
    phone.send("0, although my calf is warm and swollen")
    assert "medical care today" in phone.said and "not home exercises" in phone.said
    assert any("URGENT" in body for body in staff_alerts(runtime))


@pytest.mark.parametrize(
    "text",
    ["no chest pains at all", "my dad had a stroke in May", "if I ever can't breathe I'll call 911",
     "I can't walk far without it aching", "had a blood clot years ago, all fine now"],
)  # fmt: skip
def test_negated_past_hypothetical_or_someone_elses_mention_never_fires(
    phone: Phone, runtime: Runtime, text: str
) -> None:
    phone.send(text)  # a first message: greeted, nothing raised
    answer_up_to(phone, "age")
    phone.send(text)  # mid-questionnaire: asked again, nothing raised
    assert "911" not in phone.said and staff_alerts(runtime) == []


def test_red_flag_on_a_plan_pauses_it_and_after_stop_only_staff_hear(
    phone: Phone, runtime: Runtime
) -> None:
    for _, text in [("", "hi"), *answers_with()]:
        phone.send(text)
    phone.send("6pm")
    phone.send("woke up with my shin rock hard and the pain is unbearable")
    assert "911" in phone.said
    assert runtime.store.load(phone.number).plan["hold"] == "red_flag"
    phone.send("please stop texting me")
    assert runtime.store.load(phone.number).opted_out
    before = len(staff_alerts(runtime))
    phone.send("my chest feels really tight now")
    assert phone.replies == [] and len(staff_alerts(runtime)) == before + 1


def test_a_contradicted_answer_is_confirmed_and_the_safer_reading_wins(phone: Phone) -> None:
    answer_up_to(phone, "injury")
    phone.send("no, but I twisted it on a trail run on Monday")
    assert "Just to check" in phone.last_reply and "yes" in phone.last_reply
    phone.send("Y")
    assert "Since the injury" in phone.last_reply  # injury = yes: its follow-up question


def test_a_denied_confirmation_keeps_the_literal_answer(phone: Phone) -> None:
    answer_up_to(phone, "injury")
    phone.send("no, but I twisted it on a trail run on Monday")
    phone.send("N")
    assert "Since the injury" not in phone.last_reply


def test_an_unexplained_part_is_confirmed_then_the_question_asked_again(phone: Phone) -> None:
    answer_up_to(phone, "settles")
    phone.send("yes but only on really long runs, and my knee clicks too")
    assert "Just to check, I read that as: yes" in phone.last_reply
    phone.send("no")
    assert "next morning" in phone.last_reply  # the settles question again


@pytest.mark.parametrize(("qid", "text"), [(q, t) for q, t in EXERCISES_PATH])
def test_a_plain_menu_answer_is_never_confirmed(phone: Phone, qid: str, text: str) -> None:
    answer_up_to(phone, qid)
    phone.send(text)
    assert "Just to check" not in phone.said


def test_asking_for_a_call_mid_question_starts_the_callback(phone: Phone, runtime: Runtime) -> None:
    answer_up_to(phone, "pain_rest")
    phone.send("Can you just call me?")
    assert "will call you" in phone.said
    assert any("CALLBACK" in body.upper() for body in staff_alerts(runtime))


def test_opt_out_in_other_words_is_honoured_and_an_ambiguous_one_asked(
    phone: Phone, runtime: Runtime
) -> None:
    phone.send("hi")
    phone.send("I'm done with this bot")
    assert "Reply STOP" in phone.last_reply and not runtime.store.load(phone.number).opted_out
    phone.send("take me off this list please")
    assert "unsubscribed" in phone.last_reply and runtime.store.load(phone.number).opted_out


@pytest.mark.parametrize(("qid", "safe"), [("settles", "reply N"), ("injury", "reply Y")])
def test_not_sure_points_to_the_safe_answer(phone: Phone, qid: str, safe: str) -> None:
    answer_up_to(phone, qid)
    phone.send("not sure")
    assert safe in phone.last_reply


def test_reading_a_message_logs_nothing_of_it(
    config: Any, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "my calf is swollen and Zanzibar-warm since the marathon"
    book = config.playbook
    understand(secret, None, book.lexicons["en"], book.reader)
    out, err = capfd.readouterr()
    assert "Zanzibar" not in out + err + caplog.text


def test_reading_a_message_adds_no_log_lines(config: Any, caplog: pytest.LogCaptureFixture) -> None:
    """The NLP libraries' own chatter (PyFastNER logs rule syntax per message) stays out."""
    caplog.set_level(logging.DEBUG)
    book = config.playbook
    for text in ("my chest hurts a lot", "my calf is swollen and hot", "ran 5 miles, knee ok"):
        understand(text, None, book.lexicons["en"], book.reader)
    assert caplog.records == []


def test_a_confirmation_can_be_answered_in_words(phone: Phone) -> None:
    answer_up_to(phone, "pain_run")
    phone.send("5, but my knee clicks and grinds a lot")
    assert "Just to check, I read that as: 5" in phone.last_reply
    phone.send("yes that's right")
    assert "next morning" in phone.last_reply  # on to the settles question


@pytest.mark.parametrize(("reply", "after"), [("N", "How old are you"), ("Y", "911")])
def test_a_red_flag_picked_by_its_words_alone_is_asked_first(
    phone: Phone, runtime: Runtime, reply: str, after: str
) -> None:
    answer_up_to(phone, "red_flags")
    phone.send("just a tight calf, no swelling")  # the words of option 4, not a red flag
    assert "Just to check" in phone.last_reply and staff_alerts(runtime) == []
    phone.send(reply)
    assert after in phone.said
    assert bool(staff_alerts(runtime)) == (reply == "Y")


def test_only_processes_that_read_messages_load_the_nlp() -> None:
    """The worker and the CLI load config without the NLP (about 1.3 s and 165 MB); web warms it."""
    script = (
        "from bot import nlp, language_detect\n"
        "from bot.config import load_config\n"
        "from bot.settings import ROOT\n"
        "config = load_config(ROOT / 'config')\n"
        "print(len(nlp._PIPELINES), language_detect._detector.cache_info().currsize)\n"
        "config.warm()\n"
        "print(len(nlp._PIPELINES), language_detect._detector.cache_info().currsize)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split("\n")  # fmt: skip
    assert out[0] == "0 0"
    assert out[1] == "2 1"  # an English and a Spanish pipeline, one detector
