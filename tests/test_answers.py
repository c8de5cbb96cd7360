"""Answer parsing: what people actually text."""

import pytest

from bot.core.answers import (
    keyword_of,
    parse_integer,
    parse_knee_to_wall,
    parse_multi,
    parse_single,
    parse_yes_no,
)  # fmt: skip
from bot.errors import AnswerError


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
