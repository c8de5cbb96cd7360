"""The red-flag net read end to end, as people text: what fires, what never pages anyone."""

from __future__ import annotations

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
