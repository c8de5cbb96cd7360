"""Answer parsing: what people actually text."""

import math
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import load_config
from bot.core.answers import (
    keyword_of,
    parse_integer,
    parse_knee_to_wall,
    parse_multi,
    parse_single,
    parse_yes_no,
)  # fmt: skip
from bot.core.flow import Question
from bot.core.options import find, words_of
from bot.core.units import quantities, since
from bot.errors import AnswerError, PartialAnswer
from bot.settings import ROOT


@pytest.mark.parametrize(
    "text", ["y", "Y", "yes", "YES!", "yeah", "yep", "Yup.", "sure", "I do", "ok", "👍"]
)
def test_yes(text: str) -> None:
    assert parse_yes_no(text) is True


@pytest.mark.parametrize("text", ["n", "N", "no", "No.", "nope", "nah", "I don't", "not really"])
def test_no(text: str) -> None:
    assert parse_yes_no(text) is False


@pytest.mark.parametrize("text", ["", "maybe", "7", "🙂", "\x00", "what?"])
def test_not_yes_or_no(text: str) -> None:
    with pytest.raises(AnswerError):
        parse_yes_no(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [("7", 7), ("7/10", 7), ("7 / 10", 7), ("7 out of 10", 7), ("seven", 7), ("Seven!", 7),
     ("ten", 10), ("0", 0), ("zero", 0), ("about 4", 4), ("45 years", 45), ("forty five", 45),
     ("forty-five", 45), ("I'm 34", 34), ("110", 110), ("one hundred and ten", 110), ("5.4", 5)],
)  # fmt: skip
def test_integers(text: str, value: int) -> None:
    assert parse_integer(text, 0, 110) == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [("11", "out_of_range"), ("-1", "out_of_range"), ("lots", "not_a_number"), ("", "empty"),
     ("6-7", "range"), ("3 or 4", "range"), ("9999999999999999999", "out_of_range")],
)  # fmt: skip
def test_integer_rejects(text: str, reason: str) -> None:
    with pytest.raises(AnswerError, match=reason):
        parse_integer(text, 0, 10)


@pytest.mark.parametrize(
    ("text", "value"),
    [("1 3", [1, 3]), ("1,3", [1, 3]), ("1, 3", [1, 3]), ("1 and 3", [1, 3]), ("3 1", [1, 3]),
     ("13", [1, 3]), ("1 & 3", [1, 3]), ("none", []), ("0", []), ("None.", []), ("no", []),
     ("4", [4]), ("1 1", [1]), ("one and three", [1, 3])],
)  # fmt: skip
def test_multi_select(text: str, value: list[int]) -> None:
    assert parse_multi(text, range(5)) == value


@pytest.mark.parametrize(("text", "reason"), [("5", "out_of_range"), ("0 2", "none_and_some"),
                                              ("yes", "not_a_number"), ("", "empty")])  # fmt: skip
def test_multi_rejects(text: str, reason: str) -> None:
    with pytest.raises(AnswerError, match=reason):
        parse_multi(text, range(5))


def test_single_choice() -> None:
    assert parse_single("2", range(3)) == 2
    assert parse_single("neither", range(3)) == 0
    with pytest.raises(AnswerError, match="out_of_range"):
        parse_single("3", range(3))
    with pytest.raises(AnswerError, match="one_only"):
        parse_single("1 2", range(3))


@pytest.mark.parametrize(
    ("text", "value"),
    [("L 9 R 12", {"left": 9.0, "right": 12.0}), ("left 9.5, right 12cm", {"left": 9.5, "right": 12.0}),
     ("R 12 L 9", {"left": 9.0, "right": 12.0}), ("l9 r12", {"left": 9.0, "right": 12.0}),
     ("9", {"left": 9.0, "right": 9.0}), ("9 cm", {"left": 9.0, "right": 9.0}),
     ("9 and 12", {"left": 9.0, "right": 12.0}), ("skip", {"skipped": True}), ("SKIP", {"skipped": True}),
     ("ten", {"left": 10.0, "right": 10.0})],
)  # fmt: skip
def test_knee_to_wall(text: str, value: dict[str, float]) -> None:
    assert parse_knee_to_wall(text) == value


@pytest.mark.parametrize(("text", "reason"), [("L 31 R 2", "out_of_range"), ("far", "not_ktw"),
                                              ("L 9", "one_side"), ("1 2 3", "not_ktw")])  # fmt: skip
def test_knee_to_wall_rejects(text: str, reason: str) -> None:
    with pytest.raises(AnswerError, match=reason):
        parse_knee_to_wall(text)


@pytest.mark.parametrize(("text", "word"), [("STOP", "stop"), ("Stop.", "stop"), (" stop! ", "stop"),
                                            ("help?", "help"), ("stop it", None), ("", None)])  # fmt: skip
def test_keywords_are_single_words(text: str, word: str | None) -> None:
    assert keyword_of(text) == word


FLOW_QUESTIONS = list(load_config(ROOT / "config").playbook.flow.questions.values())
WORDY = st.lists(
    st.sampled_from(["no", "not", "none", "both", "all", "left", "R", "1", "3", "0", "-", "/",
                     "10", "weeks", "since", "march", "in", "inches", '"', "half", "and", "a",
                     "calf", "swollen", "outside", "kneecap", "same", "11/10", "yws", "stpo",
                     "between", "or", "to", "years", "1980", ",", "ı", "٣", "½", "Ⅻ"]),
    max_size=12,
).map(" ".join)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(FLOW_QUESTIONS), st.one_of(st.text(max_size=60), WORDY))
def test_any_text_is_an_answer_or_a_reason(q: Question, text: str) -> None:
    """Whatever is typed, a question answers with a value or a reason to ask again."""
    try:
        value = q.parse(text, today=date(2026, 12, 1), partial={"left": 9.0})
    except AnswerError as err:
        assert str(err)
        return
    if q.kind == "multi":
        assert set(value) <= set(q.option_ids())
    elif q.kind == "single":
        assert value in q.option_ids()
    elif q.kind == "integer":
        assert q.lo <= value <= q.hi


@pytest.mark.parametrize(
    ("text", "family", "low", "high"),
    [("4 weeks", "duration", 28, 28), ("about 3 yrs", "duration", 1095.75, 1095.75),
     ("a couple of months", "duration", 60.875, 60.875), ("2-3 weeks", "duration", 14, 20),
     ("more than 12 weeks", "duration", 85, math.inf), ("under 2 weeks", "duration", 0, 13),
     ("after 4 miles", "distance", 4, 4), ("5k", "distance", 5, 5), ("20 min", "clock", 20, 20),
     ("4 inches", "length", 10.16, 10.16), ("90mm", "length", 9, 9)],
)  # fmt: skip
def test_quantities(text: str, family: str, low: float, high: float) -> None:
    (q,) = quantities(text)
    assert (q.family, q.low, q.high) == (family, pytest.approx(low), pytest.approx(high))


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [("since march", 245, 275), ("since last week", 7, 13), ("since 2025", 335, 699),
     ("since monday", 1, 1), ("since yesterday", 1, 1), ("started in june", 154, 183)],
)  # fmt: skip
def test_since_counts_days_to_the_given_date(text: str, low: int, high: int) -> None:
    q = since(text, date(2026, 12, 1))  # a Tuesday
    assert q is not None and (q.low, q.high) == (low, high)


def test_since_needs_a_date() -> None:
    assert since("since march", None) is None


@pytest.mark.parametrize(
    ("text", "partial", "value"),
    [("12", {"left": 9.0}, {"left": 9.0, "right": 12.0}),
     ("R 12", {"left": 9.0}, {"left": 9.0, "right": 12.0}),
     ("same", {"right": 11.0}, {"left": 11.0, "right": 11.0}),
     ("L 8 R 10", {"left": 9.0}, {"left": 8.0, "right": 10.0}),
     ("skip", {"left": 9.0}, {"skipped": True})],
)  # fmt: skip
def test_the_other_knee_to_wall_side_completes_a_kept_one(
    text: str, partial: dict[str, float], value: dict[str, Any]
) -> None:
    assert parse_knee_to_wall(text, partial=partial) == value


def test_one_side_alone_is_kept_not_copied() -> None:
    with pytest.raises(PartialAnswer) as caught:
        parse_knee_to_wall("only the left, 9 cm")
    assert caught.value.partial == {"left": 9.0}


@pytest.mark.parametrize(
    ("text", "negated"),
    [("no numbness", True), ("numbness", False), ("no fever or numbness", True),
     ("no fever and numbness", False), ("no fever, numbness", False),
     ("I don't have any numbness", True), ("no fever, chills or numbness", True),
     ("no fever, numbness", False), ("no fever, but numbness", False)],
)  # fmt: skip
def test_negation_reaches_to_the_end_of_the_clause(text: str, negated: bool) -> None:
    hits = find(words_of(text), [("numb", ("numbness",)), ("fever", ("fever",))])
    assert next(h for h in hits if h.option == "numb").negated is negated
