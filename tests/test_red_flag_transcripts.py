"""The red-flag net read end to end, as people text: what fires, what never pages anyone."""

from __future__ import annotations

import pytest

from bot.runtime import Runtime
from tests.conftest import Phone
from tests.test_understanding_flow import answer_up_to, staff_alerts


def test_a_typed_menu_number_still_counts_beside_a_symptom_in_words(
    phone: Phone, runtime: Runtime
) -> None:
    answer_up_to(phone, "red_flags")
    phone.send("1. also my calf is swollen and warm")  # chest pain typed, a hot calf described
    alerts = staff_alerts(runtime)
    assert len(alerts) == 1 and "EMERGENCY" in alerts[0] and "911" in phone.said


@pytest.mark.parametrize(
    "text",
    ["no chest pain, swelling or fever", "chest pain? no. breathing fine, just the knee",
     "one of my knees hurts, that's all", "no numbness, tingling, fever or weight loss"],
)  # fmt: skip
def test_lists_of_nos_and_descriptions_at_the_screen_page_nobody(
    phone: Phone, runtime: Runtime, text: str
) -> None:
    answer_up_to(phone, "red_flags")
    phone.send(text)
    assert staff_alerts(runtime) == [] and "911" not in phone.said


def test_a_red_flag_after_declining_the_questionnaire_is_still_acted_on(
    phone: Phone, runtime: Runtime
) -> None:
    phone.send("hi")
    phone.send("no thanks")
    assert staff_alerts(runtime) == []
    phone.send("actually my leg pain is a 10 and my toes have gone numb")
    assert "911" in phone.said
    assert any("EMERGENCY" in body for body in staff_alerts(runtime))


def test_a_spelled_number_in_a_sentence_is_not_a_menu_pick(phone: Phone, runtime: Runtime) -> None:
    answer_up_to(phone, "red_flags")
    phone.send("two")  # a menu-like reply: option 2, a swollen calf
    assert any("URGENT" in body for body in staff_alerts(runtime))
