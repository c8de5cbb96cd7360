"""Times of day, weekdays and time zones as people text them; local wall times to UTC instants."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

import phonenumbers
from phonenumbers import timezone as number_zones

from bot.core.answers import clean, words_to_numbers
from bot.errors import AnswerError

UNKNOWN_ZONE = "Etc/Unknown"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
BUILT_IN_WORDS = {"noon": time(12), "midday": time(12), "midnight": time(0),
                  "mediodia": time(12), "medio dia": time(12), "medianoche": time(0)}  # fmt: skip
_FILLER = frozenset(
    {"ok", "okay", "yes", "yeah", "yep", "sure", "please", "pls", "at", "around", "about", "by"}
    | {"every", "each", "daily", "the", "in", "oclock", "time", "reminder", "reminders", "me"}
    | {"las", "la", "de", "en", "por", "todos", "los", "dias", "cada", "si", "claro", "vale"}
    | {"hora", "recordatorio", "recordatorios", "mejor", "como", "eso", "del", "favor", "porfa"}
)
_AM = frozenset(("a", "am", "morning", "manana", "madrugada"))
_PM = frozenset(("p", "pm", "evening", "afternoon", "night", "tonight", "tarde", "noche"))
_CLOCK = re.compile(r"(\d{1,2})(?:[:.](\d{2}))?|(\d{3,4})")

ZONE_WORDS = {
    "America/New_York": "eastern et est edt east coast new york este costa este nueva york",
    "America/Chicago": "central ct cst cdt chicago texas centro",
    "America/Denver": "mountain mt mst mdt denver montana",
    "America/Phoenix": "arizona az phoenix",
    "America/Los_Angeles": "pacific pt pst pdt west coast california los angeles la pacifico",
    "America/Anchorage": "alaska akst akdt akt",
    "Pacific/Honolulu": "hawaii hst honolulu hawai",
    "Europe/London": "uk london bst britain",
    "UTC": "utc gmt",
}
ZONE_LABELS = {
    "America/New_York": "Eastern time",
    "America/Chicago": "Central time",
    "America/Denver": "Mountain time",
    "America/Phoenix": "Arizona time",
    "America/Los_Angeles": "Pacific time",
    "America/Anchorage": "Alaska time",
    "Pacific/Honolulu": "Hawaii time",
    "Europe/London": "UK time",
}


def _alias_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for zone, words in ZONE_WORDS.items():
        multi = [w for w in ("east coast", "west coast", "new york", "los angeles") if w in words]
        rest = words
        for phrase in multi:
            table[phrase] = zone
            rest = rest.replace(phrase, " ")
        table.update({w: zone for w in rest.split()})
    return table


_ZONE_ALIASES = _alias_table()


def _words_of(text: str) -> list[str]:
    text = clean(text).lower().replace("’", "'")
    text = re.sub(r"\b([ap])\.\s?m\.?", r"\1m", text)  # a.m. / p.m.
    text = re.sub(r"\ba las?\b", " ", text)  # Spanish "a las 7"
    text = re.sub(r"[^\w\s:.']", " ", text).replace("'", "")
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)
    text = re.sub(r"(\d)([a-z])", r"\1 \2", words_to_numbers(text))
    return [w for w in text.split() if w not in _FILLER]


def parse_time_of_day(
    text: str, words: Mapping[str, str], *, window: tuple[time, time] | None = None
) -> time:
    """A time of day from a reply like '7', '7am', '7:30 pm', '19:00', '1900', 'noon', 'morning'.

    A bare hour with no am/pm follows the waking-day rule: 7-11 are morning, 12 is noon, 1-6 are
    afternoon/evening (so '6' is 6 pm); 13-23, or a leading zero ('07:00'), is the 24-hour clock.
    With a `window` (the hours reminders may go out), a bare hour whose rule reading falls outside
    it and whose other half falls inside takes the other half: '7' is 7 pm when 7 am is too early.
    `words` are the clinic's configured names ('morning' -> '08:00'); they win over built-ins.
    """
    tokens = _words_of(text)
    if not tokens:
        raise AnswerError("empty")
    joined = " ".join(tokens)
    for name in (joined, joined.removesuffix("s")):
        if name in words:
            return _configured(words[name])
        if name in BUILT_IN_WORDS:
            return BUILT_IN_WORDS[name]
    meridiem = {t for t in tokens if t in _AM or t in _PM}
    clock = [t for t in tokens if t not in meridiem]
    if len(clock) != 1 or len({m in _AM for m in meridiem}) > 1:
        raise AnswerError("not_a_time")
    match = _CLOCK.fullmatch(clock[0])
    if match is None:
        raise AnswerError("not_a_time")
    digits = match.group(3)
    raw_hour = digits[:-2] if digits else match.group(1)
    minute = int(digits[-2:] if digits else match.group(2) or 0)
    hour = int(raw_hour)
    half = None if not meridiem else ("am" if meridiem <= _AM else "pm")
    twenty_four = len(raw_hour) == 2 and raw_hour[0] == "0"
    read = _resolve(hour, minute, half, twenty_four=twenty_four)
    if window is None or half is not None or twenty_four or not 1 <= hour <= 12:
        return read
    other = time((read.hour + 12) % 24, read.minute)
    inside = window[0] <= read <= window[1]
    return other if not inside and window[0] <= other <= window[1] else read


def _configured(value: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError as err:  # config validation should catch this first
        raise AnswerError("not_a_time") from err


def _resolve(hour: int, minute: int, half: str | None, *, twenty_four: bool) -> time:
    if minute > 59 or hour > 23:
        raise AnswerError("out_of_range")
    if half is not None:
        if not 1 <= hour <= 12:
            raise AnswerError("out_of_range")
        return time(hour % 12 + (12 if half == "pm" else 0), minute)
    if twenty_four or hour >= 13:
        return time(hour, minute)
    if hour == 0:
        raise AnswerError("out_of_range")
    return time(hour if hour >= 7 else hour + 12, minute)


def describe_time(t: time) -> str:
    """'7:00 am', '12:30 pm', '12:00 am' for midnight."""
    hour = t.hour % 12 or 12
    return f"{hour}:{t.minute:02d} {'am' if t.hour < 12 else 'pm'}"


def describe_days(weekdays: tuple[str, ...]) -> str:
    """'every day', 'Mon-Sat', or 'Mon, Wed, Fri'."""
    picked = sorted({WEEKDAYS.index(d) for d in weekdays})
    if len(picked) == 7:
        return "every day"
    names = [WEEKDAYS[i].title() for i in picked]
    if len(picked) >= 3 and picked == list(range(picked[0], picked[-1] + 1)):
        return f"{names[0]}-{names[-1]}"
    return ", ".join(names)


def hhmm(t: time) -> str:
    return f"{t.hour:02d}:{t.minute:02d}"


def nearest_allowed(t: time, earliest: time, latest: time) -> tuple[time, str | None]:
    """The nearest time inside [earliest, latest] on the 24-hour clock, and which end it moved
    to ('earliest', 'latest') or None: 6 am -> 8 am, 11 pm and midnight -> 9 pm, 3 am -> 8 am."""
    if earliest <= t <= latest:
        return t, None
    start, end, at = (x.hour * 60 + x.minute for x in (earliest, latest, t))
    if (start - at) % 1440 <= (at - end) % 1440:
        return earliest, "earliest"
    return latest, "latest"


@lru_cache(maxsize=1)
def _zones_by_lower() -> dict[str, str]:
    return {z.lower(): z for z in available_timezones()}


_CONTINENTS = frozenset(("America", "Europe", "Asia", "Australia", "Pacific", "Africa"))


@lru_cache(maxsize=1)
def _zones_by_city() -> dict[str, str]:
    by_city: dict[str, list[str]] = {}
    for zone in sorted(available_timezones()):
        if zone.split("/")[0] in _CONTINENTS:
            by_city.setdefault(zone.rsplit("/", 1)[1].replace("_", " ").lower(), []).append(zone)
    return {city: zones[0] for city, zones in by_city.items() if len(zones) == 1}


_ZONE_FILLER = frozenset(("time", "zone", "timezone", "standard", "daylight", "the", "in", "im"))


def parse_zone(text: str) -> str:
    """An IANA zone from 'America/New_York', 'eastern', 'ET', 'pacific time', 'Chicago'."""
    raw = clean(text).strip(" .!?")
    words = re.sub(r"[^\w\s]", " ", raw.lower()).split()
    phrase = " ".join(w for w in words if w not in _ZONE_FILLER)
    if not phrase:
        raise AnswerError("empty")
    found = (
        _ZONE_ALIASES.get(phrase)
        or _zones_by_lower().get(raw.lower().replace(" ", "_"))
        or _zones_by_city().get(phrase)
    )
    if found is None:
        raise AnswerError("not_a_zone")
    return found


def describe_zone(zone: str) -> str:
    """'Pacific time' for the common US zones, else the IANA name ('Europe/Paris')."""
    return ZONE_LABELS.get(zone, zone)


def zone_for_number(e164: str, default_zone: str) -> str:
    """The number's zone when its prefix names exactly one (or the default is among several);
    otherwise (toll-free, mobile ranges spanning zones, unknown) the default, i.e. the clinic's."""
    try:
        candidates = number_zones.time_zones_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return default_zone
    known = [z for z in candidates if z != UNKNOWN_ZONE and z.lower() in _zones_by_lower()]
    if default_zone in known or len(known) != 1:
        return default_zone
    return known[0]


def local_instant(day: date, at: time, zone: str) -> datetime:
    """The UTC instant of a local wall time (a time skipped by DST resolves forward)."""
    local = datetime.combine(day, at, tzinfo=ZoneInfo(zone))
    return local.astimezone(UTC)


def local_date(now: datetime, zone: str) -> date:
    return now.astimezone(ZoneInfo(zone)).date()


def local_time(now: datetime, zone: str) -> time:
    return now.astimezone(ZoneInfo(zone)).time()
