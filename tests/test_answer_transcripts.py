"""Answers with units and words, through the webhook and the store, as a person texts them."""

from __future__ import annotations

from tests.conftest import Phone, answers_with


def reach(phone: Phone, question: str) -> None:
    """Answer the exercises path up to (not including) `question`."""
    phone.send("Hi, my knee hurts when I run")
    for qid, text in answers_with():
        if qid == question:
            return
        phone.send(text)


def test_one_knee_to_wall_side_is_kept_while_the_other_is_asked(phone: Phone) -> None:
    reach(phone, "ktw")
    phone.send("only managed the left, 8cm")
    assert "left 8 cm noted" in phone.last_reply and "right side" in phone.last_reply
    phone.send("12")
    assert "exercise" in phone.said.lower() or "program" in phone.said.lower()


def test_inches_are_read_as_cm(phone: Phone) -> None:
    reach(phone, "ktw")
    phone.send('L 3" R 3.5"')  # 7.6 and 8.9 cm: limited, so the home program
    assert "program" in phone.said.lower()


def test_weeks_at_the_age_question_are_asked_again(phone: Phone) -> None:
    reach(phone, "age")
    phone.send("6 weeks")
    assert "age in years" in phone.last_reply
    phone.send("41")
    assert "fall, twist" in phone.last_reply


def test_a_distance_for_a_pain_score_is_asked_again(phone: Phone) -> None:
    reach(phone, "pain_run")
    phone.send("hurts after 4 miles")
    assert "not a distance or a time" in phone.last_reply
    phone.send("3-4")
    assert "the higher one" in phone.last_reply
    phone.send("11/10")  # the top of the scale: an evaluation, not the home program
    phone.send("yes")
    assert "How long" in phone.last_reply


def test_a_duration_in_words_lands_on_its_option(phone: Phone) -> None:
    reach(phone, "duration")
    phone.send("about 3 years")  # over 12 weeks
    assert "calves or ankles" in phone.last_reply


def test_option_words_answer_a_menu(phone: Phone) -> None:
    reach(phone, "location")
    phone.send("on the outside of my knee")
    assert "right now" in phone.last_reply  # the pain-at-rest question follows
