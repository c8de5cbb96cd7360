"""Times of day, time zones and wall-time arithmetic (bot.core.times)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from bot.core.times import (
    describe_days,
    describe_time,
    describe_zone,
    local_instant,
    nearest_allowed,
    parse_time_of_day,
    parse_zone,
    zone_for_number,
)
from bot.errors import AnswerError

WORDS = {"morning": "08:00", "noon": "12:00", "afternoon": "15:00", "evening": "18:00"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7", time(7)),
        ("11", time(11)),
        ("12", time(12)),
        ("1", time(13)),
        ("6", time(18)),
        ("7am", time(7)),
        ("7 am", time(7)),
        ("7AM", time(7)),
        ("7 a.m.", time(7)),
        ("7a", time(7)),
        ("7:30 pm", time(19, 30)),
        ("7.30pm", time(19, 30)),
        ("7:30", time(7, 30)),
        ("6:30", time(18, 30)),
        ("19:00", time(19)),
        ("1900", time(19)),
        ("0730", time(7, 30)),
        ("07:00", time(7)),
        ("730", time(7, 30)),
        ("12am", time(0)),
        ("12 pm", time(12)),
        ("noon", time(12)),
        ("Midday", time(12)),
        ("midnight", time(0)),
        ("morning", time(8)),
        ("mornings", time(8)),
        ("in the evening", time(18)),
        ("every afternoon", time(15)),
        ("seven am", time(7)),
        ("at 6:30pm please", time(18, 30)),
        ("7 in the evening", time(19)),
        ("8 at night", time(20)),
        ("ok 9am", time(9)),
        ("TIME 6pm", time(18)),
        ("6pm!", time(18)),
    ],
)
def test_parse_time_of_day(text: str, expected: time) -> None:
    assert parse_time_of_day(text, WORDS) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("7", time(19)), ("7:30", time(19, 30)), ("seven", time(19)), ("9", time(9)),
     ("6", time(18)), ("11", time(11)), ("7am", time(7)), ("07:00", time(7)),
     ("7 in the morning", time(7))],
)  # fmt: skip
def test_a_bare_hour_takes_the_half_of_the_day_inside_the_window(text: str, expected: time) -> None:
    # "7" for a reminder between 8 am and 9 pm can only mean 7 pm; said am stays am (and the
    # caller moves it to the nearest allowed time, saying so).
    assert parse_time_of_day(text, WORDS, window=(time(8), time(21))) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("banana", "not_a_time"),
        ("7 or 8", "not_a_time"),
        ("7am 8pm", "not_a_time"),
        ("7 am pm", "not_a_time"),
        ("13pm", "out_of_range"),
        ("0am", "out_of_range"),
        ("25:00", "out_of_range"),
        ("7:75", "out_of_range"),
        ("0", "out_of_range"),
        ("2400", "out_of_range"),
        ("tomorrow", "not_a_time"),
        ("😀", "empty"),
    ],
)
def test_parse_time_of_day_rejects(text: str, reason: str) -> None:
    with pytest.raises(AnswerError) as err:
        parse_time_of_day(text, WORDS)
    assert str(err.value) == reason


def test_configured_words_win_over_built_ins() -> None:
    assert parse_time_of_day("noon", {"noon": "12:30"}) == time(12, 30)
    with pytest.raises(AnswerError):
        parse_time_of_day("morning", {})  # only configured words name times
    with pytest.raises(AnswerError):
        parse_time_of_day("morning", {"morning": "8am"})  # a bad config value is not a crash


@pytest.mark.parametrize(
    ("t", "text"),
    [
        (time(7), "7:00 am"),
        (time(19, 30), "7:30 pm"),
        (time(12), "12:00 pm"),
        (time(0), "12:00 am"),
    ],
)
def test_describe_time(t: time, text: str) -> None:
    assert describe_time(t) == text


@pytest.mark.parametrize(
    ("chosen", "expected", "moved"),
    [
        (time(8), time(8), None),
        (time(12, 15), time(12, 15), None),
        (time(21), time(21), None),
        (time(6), time(8), "earliest"),
        (time(7, 59), time(8), "earliest"),
        (time(2, 31), time(8), "earliest"),
        (time(21, 1), time(21), "latest"),
        (time(23), time(21), "latest"),
        (time(0), time(21), "latest"),
        (time(2, 29), time(21), "latest"),
    ],
)
def test_nearest_allowed(chosen: time, expected: time, moved: str | None) -> None:
    assert nearest_allowed(chosen, time(8), time(21)) == (expected, moved)


@pytest.mark.parametrize(
    ("number", "zone"),
    [
        ("+19494091339", "America/Los_Angeles"),
        ("+12125551234", "America/New_York"),
        ("+16155551234", "America/Chicago"),
        ("+442071234567", "Europe/London"),
        ("+61212345678", "Australia/Sydney"),
        ("+18005551234", "America/Denver"),  # toll-free spans every US zone: the fallback
        ("+15555551234", "America/Denver"),  # unknown area code: the fallback
        ("+79161234567", "America/Denver"),  # several zones: the fallback
        ("not a number", "America/Denver"),
    ],
)
def test_zone_for_number(number: str, zone: str) -> None:
    assert zone_for_number(number, "America/Denver") == zone


def test_zone_for_number_prefers_the_default_among_several() -> None:
    assert zone_for_number("+79161234567", "Europe/Moscow") == "Europe/Moscow"


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("America/New_York", "America/New_York"),
        ("america/new_york", "America/New_York"),
        ("Europe/Paris", "Europe/Paris"),
        ("eastern", "America/New_York"),
        ("ET", "America/New_York"),
        ("EST", "America/New_York"),
        ("Eastern time", "America/New_York"),
        ("pacific", "America/Los_Angeles"),
        ("PT", "America/Los_Angeles"),
        ("Pacific Standard Time", "America/Los_Angeles"),
        ("central", "America/Chicago"),
        ("CST", "America/Chicago"),
        ("mountain", "America/Denver"),
        ("arizona", "America/Phoenix"),
        ("hawaii", "Pacific/Honolulu"),
        ("alaska", "America/Anchorage"),
        ("Chicago", "America/Chicago"),
        ("new york", "America/New_York"),
        ("london", "Europe/London"),
        ("UTC", "UTC"),
    ],
)
def test_parse_zone(text: str, zone: str) -> None:
    assert parse_zone(text) == zone


@pytest.mark.parametrize("text", ["", "mars", "America/Nowhere", "zone", "5"])
def test_parse_zone_rejects(text: str) -> None:
    with pytest.raises(AnswerError):
        parse_zone(text)


@pytest.mark.parametrize(
    ("zone", "label"),
    [("America/Los_Angeles", "Pacific time"), ("America/New_York", "Eastern time"),
     ("Europe/Paris", "Europe/Paris")],
)  # fmt: skip
def test_describe_zone(zone: str, label: str) -> None:
    assert describe_zone(zone) == label


@pytest.mark.parametrize(
    ("days", "text"),
    [
        (("mon", "tue", "wed", "thu", "fri", "sat"), "Mon-Sat"),
        (("mon", "tue", "wed", "thu", "fri", "sat", "sun"), "every day"),
        (("mon", "wed", "fri"), "Mon, Wed, Fri"),
        (("sat", "sun"), "Sat, Sun"),
    ],
)
def test_describe_days(days: tuple[str, ...], text: str) -> None:
    assert describe_days(days) == text


@pytest.mark.parametrize(
    ("day", "at", "zone", "utc"),
    [
        (date(2026, 3, 7), time(9), "America/Los_Angeles", datetime(2026, 3, 7, 17, tzinfo=UTC)),
        (date(2026, 3, 8), time(9), "America/Los_Angeles", datetime(2026, 3, 8, 16, tzinfo=UTC)),
        (date(2026, 10, 31), time(9), "America/New_York", datetime(2026, 10, 31, 13, tzinfo=UTC)),
        (date(2026, 11, 1), time(9), "America/New_York", datetime(2026, 11, 1, 14, tzinfo=UTC)),
        # 02:30 does not exist on 2026-03-08 in Los Angeles: it resolves forward to 03:30 PDT
        (date(2026, 3, 8), time(2, 30), "America/Los_Angeles", datetime(2026, 3, 8, 10, 30, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_local_instant_across_dst(day: date, at: time, zone: str, utc: datetime) -> None:
    assert local_instant(day, at, zone) == utc
