"""A language per person: detected from what they text, switched by a word, read in its terms.

Each language has its own Playbook (the questionnaire with that language's labels and words,
time words, plan words); keywords (STOP, HELP, ...) work in every language at any time, because
an opt-out in the language of the messages must always be honoured. Detection is a port (a plain
function, bot/language_detect.py) that may say None when a text is too short to tell.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.core.answers import clean, keyword_of
from bot.core.engine import advance
from bot.core.model import Inbound, Patient, Playbook, Reply, Step
from bot.core.options import fold
from bot.core.typos import typo_of
from bot.core.units import spelled_to_digits

SWITCHED = "language_set"
TEMPLATES = (SWITCHED,)
Detect = Callable[[str], str | None]


def _never(text: str) -> str | None:
    return None


@dataclass(frozen=True)
class Languages:
    """The clinic's languages: a playbook each, the words that switch, and the detector."""

    default: str
    books: Mapping[str, Playbook]
    switch_words: Mapping[str, str] = field(default_factory=dict)  # folded word -> language
    detect: Detect = _never
    # Keywords in every language, folded ('parar', 'no mas', 'hecho') -> the keyword they are
    # ('stop', 'stop', 'done'); `commands` take an argument after them ('hora 6pm' is 'time 6pm').
    aliases: Mapping[str, str] = field(default_factory=dict)
    commands: frozenset[str] = frozenset()
    # Opt back in ('comenzar', 'sí' -> 'start', 'yes'): only for someone opted out, since the
    # same words answer questions ('¿Empezamos?' 'comenzar').
    rejoin: Mapping[str, str] = field(default_factory=dict)

    def book(self, lang: str | None) -> Playbook:
        return self.books.get(lang or self.default) or self.books[self.default]

    def keyword(self, text: str, opted_out: bool = False) -> str:
        """The text with another language's keyword said as the keyword ('PARAR' -> 'stop')."""
        said = " ".join(re.sub(r"[^\w\s:]", " ", fold(clean(text).lower())).split())
        if opted_out and said in self.rejoin:
            return self.rejoin[said]
        if said in self.aliases:
            return self.aliases[said]
        first, _, rest = said.partition(" ")
        if rest and self.aliases.get(first) in self.commands:
            return f"{self.aliases[first]} {rest}"
        if " " not in said and len(said) >= 5 and (fixed := typo_of(said, frozenset(self.aliases))):
            return self.aliases[fixed]  # 'pararr' is PARAR
        return text

    def chosen(self, text: str) -> str | None:
        """The language a one-word message asks for ('ES', 'Español', 'english'), else None."""
        word = keyword_of(text)
        return None if word is None else self.switch_words.get(fold(word))


_ARTICLE = re.compile(r"\b(una?)\b(?=\s+[a-záéíóúñ])", re.IGNORECASE)  # "un dolor" is no number
_OUT_OF = re.compile(r"(\d+(?:[.,]\d+)?)\s+de\s+(\d+)\b")  # "7 de 10" is 7/10
_A_NUMBER = re.compile(r"\b(?:una?|como|unos|unas)\s+(?=\d)", re.IGNORECASE)
_BOTH = re.compile(r"\blos dos\b", re.IGNORECASE)
_AND = re.compile(r"(?<=\d)\s+y\s+(?=\d)")
_DONT_KNOW = re.compile(r"\bno s[ée]\s*$|\bno sé\b", re.IGNORECASE)
_UNIT = r"(?=(?:dia|dias|semana|semanas|mes|meses|ano|anos)\b)"
_AMOUNTS = (
    (re.compile(r"\bun par de\s+" + _UNIT, re.IGNORECASE), "2 "),
    (re.compile(r"\b(?:unos|unas)\s+" + _UNIT, re.IGNORECASE), "a few "),
    (re.compile(r"\b(?:un|una)\s+" + _UNIT, re.IGNORECASE), "1 "),
    (re.compile(r"\bmas de\s+(?=\d)", re.IGNORECASE), "more than "),
    (re.compile(r"\bmenos de\s+(?=\d)", re.IGNORECASE), "less than "),
)
_HALF_PAST = re.compile(r"\b(\d{1,2})\s+y\s+(media|cuarto)\b")  # "7 y media" is 7:30


def prepare(text: str, lang: str) -> str:
    """What the answer parsers read: Spanish number words as digits ('treinta y cuatro' -> 34),
    '7 de 10' as 7/10, accents folded so option words match however they are typed. English is
    read as typed; another language gets its number words (where text2num knows them) and folding."""
    if lang == "en":
        return text
    if lang != "es":
        return fold(spelled_to_digits(clean(text), lang))
    text = _DONT_KNOW.sub("no lo sé", clean(text))  # 'no sé' is unsure; 'no se dobla' is not
    text = _A_NUMBER.sub("", text)  # "un 3 de 10" is 3 out of 10
    text = _BOTH.sub("ambos", text)  # "los dos lados" is both sides, not side 2
    pieces = _ARTICLE.split(text)
    converted = "".join(
        piece if i % 2 else spelled_to_digits(piece, lang) for i, piece in enumerate(pieces)
    )
    converted = _HALF_PAST.sub(lambda m: f"{m[1]}:{30 if m[2] == 'media' else 15}", converted)
    converted = _AND.sub(" and ", converted)  # "1 y 3": y is "and" here, not "years"
    folded = fold(_OUT_OF.sub(r"\1/\2", converted))
    for pattern, amount in _AMOUNTS:  # "un mes", "un par de semanas", "más de 3 meses"
        folded = pattern.sub(amount, folded)
    return folded


def advance_in(patient: Patient, inbound: Inbound, langs: Languages, now: datetime) -> Step:
    """One message in the person's language: a switch word, a first detection, then the engine."""
    wanted = None if patient.opted_out else langs.chosen(inbound.text)
    if wanted is not None:
        return switch(patient, wanted, langs, inbound, now)
    lang = patient.lang or (inbound.lang if inbound.lang in langs.books else None)
    if lang is None and not patient.opted_out:
        lang = langs.detect(clean(inbound.text))
    book = langs.book(lang)
    text = langs.keyword(inbound.text, patient.opted_out)
    read = replace(inbound, text=prepare(text, lang or langs.default))
    return advance(replace(patient, lang=lang), read, book, now)


def switch(patient: Patient, lang: str, langs: Languages, inbound: Inbound, now: datetime) -> Step:
    """Answer in `lang` from now on; say so, and ask the current question again in it."""
    chosen = replace(patient, lang=lang)
    conv = chosen.conversation
    if conv.step is None:  # 'ES' as a first message: the greeting, in Spanish
        return advance(chosen, inbound, langs.book(lang), now)
    book = langs.book(lang)
    asked = book.flow.questions.get(conv.step) if conv.in_questionnaire else None
    replies: tuple[Reply, ...] = (Reply(SWITCHED),)
    if asked is not None:
        replies += (Reply(asked.prompt, {"question": asked.id, "options": asked.menu()}),)
    moved = replace(chosen, conversation=replace(conv, last_at=now, channel=inbound.channel))
    return Step(moved, replies)
