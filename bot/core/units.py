"""Numbers with their units as people text them: spelled numbers, durations, distances, lengths.

Spelled numbers go through text2num ("forty five", "thirty-four", and Spanish "treinta y
cuatro"). A quantity is a number (or "a", "a couple of", "a few", "half a") followed by a unit;
durations also come as "since March", "since last week", "for years". The calendar date is a
parameter: the core has no clock.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, timedelta

from text_to_num import alpha2digit

DAY, WEEK, MONTH, YEAR = 1.0, 7.0, 365.25 / 12, 365.25
UNITS: dict[str, tuple[str, float]] = {}  # unit word -> (family, size in the family's base unit)
for _family, _words, _size in (
    ("duration", "d day days dy dys night nights", DAY),
    ("duration", "w wk wks week weeks", WEEK),
    ("duration", "fortnight fortnights", 2 * WEEK),
    ("duration", "mo mos mth mths mnth mnths month months", MONTH),
    ("duration", "y yr yrs year years", YEAR),
    ("clock", "s sec secs second seconds min mins minute minutes h hr hrs hour hours", 1.0),
    ("distance", "mi mile miles k km kms kilometer kilometers kilometre kilometres", 1.0),
    ("distance", "m meter meters metre metres yard yards yd yds block blocks lap laps", 1.0),
    ("distance", "step steps stair stairs flight flights", 1.0),
    ("length", "cm cms centimeter centimeters centimetre centimetres", 1.0),
    ("length", "mm millimeter millimeters millimetre millimetres", 0.1),
    ("length", 'in inch inches "', 2.54),
    ("length", "ft foot feet", 30.48),
    ("weight", "lb lbs pound pounds kg kgs kilo kilos kilogram kilograms stone", 1.0),
    ("temperature", "degrees degree", 1.0),
    # Spanish, accents folded (bot/core/language.prepare)
    ("duration", "dia dias", DAY),
    ("duration", "semana semanas sem", WEEK),
    ("duration", "mes meses", MONTH),
    ("duration", "ano anos", YEAR),
    ("clock", "segundos minuto minutos hora horas", 1.0),
    (
        "distance",
        "milla millas kilometro kilometros metro metros cuadra cuadras vuelta vueltas",
        1.0,
    ),
    ("distance", "paso pasos escalon escalones", 1.0),
    ("length", "centimetro centimetros", 1.0),
    ("length", "milimetro milimetros", 0.1),
    ("length", "pulgada pulgadas", 2.54),
    ("length", "pie pies", 30.48),
    ("weight", "libra libras kilo kilos", 1.0),
    ("temperature", "grados grado", 1.0),
):
    for _w in _words.split():
        UNITS[_w] = (_family, _size)

AMOUNT_WORDS = {"couple": 2.0, "few": 3.0, "half": 0.5, "a": 1.0, "an": 1.0, "one": 1.0,
                "un": 1.0, "una": 1.0, "par": 2.0, "unos": 3.0, "unas": 3.0, "media": 0.5}  # fmt: skip
_MONTH_NAMES = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"]  # fmt: skip
MONTH_WORDS = {w: i + 1 for i, n in enumerate(_MONTH_NAMES) for w in (n, n[:3])} | {"sept": 9}
_DAY_NAMES = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAY_WORDS = {w: i for i, n in enumerate(_DAY_NAMES) for w in (n, n[:3])} | {
    "tues": 1, "weds": 2, "thur": 3, "thurs": 3}  # fmt: skip
_NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+)?(?![\d.])")
_ORDINAL = re.compile(r"\b\d+(?:st|nd|rd|th)\b")
TOO_BIG = 1e18
OPEN_END = math.inf


def spelled_to_digits(text: str, lang: str = "en") -> str:
    """'forty five' -> '45', 'one and three' -> '1 and 3'; ordinals ('2nd') are left out."""
    try:
        converted = alpha2digit(text, lang, threshold=0)
    except (ValueError, RuntimeError):  # the parser refuses odd input: keep the text as typed
        converted = text
    return _ORDINAL.sub(" ", converted)


def numbers_in(text: str) -> list[float]:
    """Every number in a (digit-converted) text; a 400-digit one is merely out of range."""
    found = (float(n) for n in _NUMBER.findall(text))
    return [n if math.isfinite(n) else TOO_BIG for n in found]


@dataclass(frozen=True)
class Quantity:
    """A measured amount: `low`..`high` in the family's base unit (days, cm, ...)."""

    family: str
    low: float
    high: float
    span: tuple[int, int]  # where in the text it was said


_AMOUNT = r"(\d+(?:\.\d+)?|a couple of|a couple|couple of|a few|few|half an?|an?|one)"
_QUALIFIER = r"(?:(more than|over|longer than|at least|almost|nearly|under|less than|about|around|roughly|maybe|like|approx|approximately)\s+)?"
_RANGE_TAIL = r"(?:\s*(?:-|to|or)\s*(\d+(?:\.\d+)?))?"
_QUANTITY = re.compile(
    _QUALIFIER + _AMOUNT + _RANGE_TAIL + r"(\s+and\s+a\s+half)?\s*(" + "|".join(
        re.escape(u) for u in sorted(UNITS, key=len, reverse=True)
    ) + r")(?![a-z])(\s+and\s+a\s+half)?"
)  # fmt: skip


def _amount(word: str) -> float:
    if word[0].isdigit():
        return float(word)
    return next(v for k, v in AMOUNT_WORDS.items() if k in word.split())


def quantities(text: str) -> list[Quantity]:
    """Amounts with units in a normalized, digit-converted text: '4 weeks', 'about 3 yrs', '5k'."""
    found = []
    for m in _QUANTITY.finditer(text):
        qualifier, amount, upper, half, unit, half_after = m.groups()
        half = half or half_after
        family, size = UNITS[unit]
        if unit in ("in", "m", "s", "d", "w", "y", "h", "k") and not amount[0].isdigit():
            continue  # "a m", "an in": letters, not units
        low = _amount(amount) + (0.5 if half else 0.0)
        high = float(upper) + (0.5 if half else 0.0) if upper else low
        step = DAY if family == "duration" else 0.01  # "over 12 weeks" starts a day later
        low, high = low * size, high * size - (step if upper and high > low else 0.0)
        if qualifier in ("more than", "over", "longer than", "at least"):
            low, high = high + (step if qualifier != "at least" else 0.0), OPEN_END
        elif qualifier in ("under", "less than"):
            low, high = 0.0, low - step
        found.append(Quantity(family, low, high, m.span()))
    return found


LAST = {"week": (7, 13), "month": (28, 61), "year": (335, 730)}  # "since last week": days ago


SEASONS = {"spring": ((3, 20), (6, 20)), "summer": ((6, 21), (9, 22)), "fall": ((9, 23), (12, 20)),
           "autumn": ((9, 23), (12, 20)), "winter": ((12, 21), (3, 19))}  # fmt: skip


def _season(today: date, name: str) -> tuple[date, date]:
    """The last time that season began (before today), and its end or today if sooner."""
    (m1, d1), (m2, d2) = SEASONS[name]
    start = date(today.year, m1, d1)
    start = start if start <= today else date(today.year - 1, m1, d1)
    end = date(start.year + (1 if m2 < m1 else 0), m2, d2)
    return start, min(end, today)


def _month_start(today: date, month: int, year: int | None) -> date:
    year = year if year is not None else (today.year if month <= today.month else today.year - 1)
    return date(year, month, 1)


def _next_month(start: date) -> date:
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


_SINCE = re.compile(
    r"\b(?:since|from|started in|began in|starting in|in|around|started|began|starting)\s+(?:about\s+|around\s+)?(?:the\s+)?"
    r"(?:start\s+of\s+|beginning\s+of\s+|end\s+of\s+|mid\s+|early\s+|late\s+)?(?:the\s+)?"
    r"(last\s+)?([a-z]+|\d{4})(?:\s+(\d{4}))?"
)


def since(text: str, today: date | None) -> Quantity | None:
    """'since March', 'since last week', 'since 2024', 'since Monday': days until `today`."""
    if today is None:
        return None
    for m in _SINCE.finditer(text):
        span = _date_span(m.group(1), m.group(2), m.group(3), today)
        if span is not None and span[0] <= today:
            first, end = span
            return Quantity("duration", float((today - end).days), float((today - first).days),
                            m.span())  # fmt: skip
    return None


def _date_span(
    last: str | None, word: str, year: str | None, today: date
) -> tuple[date, date] | None:
    """The first and last day a named time ('March', 'last week', 'Monday', 'summer') covers."""
    if word.isdigit():
        return (date(int(word), 1, 1), date(int(word), 12, 31)) if int(word) > 1900 else None
    if word in MONTH_WORDS:
        first = _month_start(today, MONTH_WORDS[word], int(year) if year else None)
        return first, _next_month(first) - timedelta(days=1)
    if word in WEEKDAY_WORDS and not last:
        back = (today.weekday() - WEEKDAY_WORDS[word]) % 7 or 7
        return today - timedelta(days=back), today - timedelta(days=back)
    if word in ("yesterday", "today", "tonight"):
        day = today - timedelta(days=1 if word == "yesterday" else 0)
        return day, day
    if word in SEASONS:
        return _season(today, word)
    if last and word in LAST:
        return today - timedelta(days=LAST[word][1]), today - timedelta(days=LAST[word][0])
    return None


VAGUE_DURATIONS = {
    "years": (2 * YEAR, OPEN_END), "ages": (None, None), "forever": (None, None),
    "months": (2 * MONTH, OPEN_END), "weeks": (2 * WEEK, OPEN_END), "days": (2.0, 14.0),
}  # fmt: skip


def vague_duration(text: str) -> Quantity | None:
    """'for years', 'a few months' with no number: a range, or nothing when it can't be placed."""
    m = re.search(
        r"\b(?:for|since|over)\s+(?:many\s+|several\s+)?(years|months|weeks|days)\b", text
    )
    if m is None:
        return None
    low, high = VAGUE_DURATIONS[m.group(1)]
    if low is None or high is None:
        return None
    return Quantity("duration", low, high, m.span())
