"""The knee-to-wall answer: cm per side, inches converted, one side kept while the other is asked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.core.options import words_of
from bot.core.units import UNITS, spelled_to_digits
from bot.errors import AnswerError, PartialAnswer

KTW_SKIP = frozenset(
    ["skip", "skipped", "pass", "later", "can't", "cant", "no", "n/a", "na", "dunno", "not now",
     "saltar", "despues", "luego", "ahora no", "no puedo", "no lo hice", "no pude", "no lo he hecho",
     "no tengo regla", "no tengo cinta"]  # Spanish, accents folded
)  # fmt: skip
SIDES = {"l": "left", "left": "left", "lt": "left", "r": "right", "right": "right", "rt": "right",
         "i": "left", "izq": "left", "izquierda": "left", "izquierdo": "left",
         "d": "right", "der": "right", "derecha": "right", "derecho": "right"}  # fmt: skip
BOTH = frozenset(["both", "each", "either", "ambos", "ambas", "cada"])
SAME = frozenset(["same", "also", "too", "likewise", "identical", "igual", "iguales", "mismo",
                  "misma", "tambien"])  # fmt: skip
NOT_INCHES_BEFORE = frozenset(["the", "my", "a", "each", "both", "front", "from"])


@dataclass(frozen=True)
class KneeToWall:
    left: float | None
    right: float | None

    @property
    def skipped(self) -> bool:
        return self.left is None or self.right is None

    def to_json(self) -> dict[str, Any]:
        if self.skipped:
            return {"skipped": True}
        return {"left": self.left, "right": self.right}


def ktw_fields(value: Any) -> dict[str, float] | None:
    """Derived numbers of a knee-to-wall answer, or None when it was skipped."""
    if not isinstance(value, dict) or value.get("skipped"):
        return None
    left, right = float(value["left"]), float(value["right"])
    return {
        "left": left,
        "right": right,
        "min": min(left, right),
        "max": max(left, right),
        "diff": round(abs(left - right), 3),
    }


def _items(tokens: list[str]) -> list[tuple[str, Any]]:
    """Sides and numbers in order; a number carries its unit's size in cm (None: unsaid)."""
    items: list[tuple[str, Any]] = []
    for i, word in enumerate(tokens):
        after = tokens[i + 1] if i + 1 < len(tokens) else ""
        if word in SIDES:
            items.append(("side", SIDES[word]))
        elif word in BOTH:
            items.append(("side", "both"))
        elif re.fullmatch(r"\d+(?:\.\d+)?", word):
            unit = UNITS.get(after)
            inch_word = (
                after == "in"
                and (tokens[i + 2] if i + 2 < len(tokens) else "") in NOT_INCHES_BEFORE
            )
            size = unit[1] if unit and unit[0] == "length" and not inch_word else None
            items.append(("number", (float(word), size)))
    return items


def _pair(items: list[tuple[str, Any]]) -> tuple[dict[str, tuple[float, float | None]], list[Any]]:
    """Numbers to sides: 'L 9 R 12' (side first) or '9 left 12 right' (number first)."""
    numbers = [v for k, v in items if k == "number"]
    if not any(k == "side" for k, _ in items):
        return {}, numbers
    sides: dict[str, tuple[float, float | None]] = {}
    side_first = items[0][0] == "side"
    pending: list[str] = []
    last_number: tuple[float, float | None] | None = None
    for kind, value in items:
        if kind == "side":
            if side_first:
                pending.append(value)
            elif last_number is not None:
                _assign(sides, value, last_number)
        else:
            if side_first:
                for side in pending or ["?"]:
                    _assign(sides, side, value)
                pending = []
            last_number = value
    return sides, []


def _assign(sides: dict[str, tuple[float, float | None]], side: str, value: Any) -> None:
    for name in ("left", "right") if side == "both" else (side,):
        if name in sides or name == "?":
            raise AnswerError("not_ktw")
        sides[name] = value


def _cm(values: list[tuple[float, float | None]]) -> list[float]:
    said = {size for _, size in values if size is not None}
    default = said.pop() if len(said) == 1 else 1.0
    return [round(v * (size if size is not None else default), 1) for v, size in values]


def parse_knee_to_wall(
    text: str, maximum: float = 30.0, partial: dict[str, float] | None = None
) -> dict[str, Any]:
    """'L 9 R 12', '9 left 12 right', '3.5 in', '9' (both), 'skip'; one side alone is kept."""
    tokens = words_of(spelled_to_digits(re.sub(r"(\d)\s*(?:\"|''|”)", r"\1 in", text.lower())))
    if not tokens:
        raise AnswerError("empty")
    if " ".join(tokens) in KTW_SKIP or tokens[0] in ("skip", "skipped"):
        return KneeToWall(None, None).to_json()
    sides_raw, loose = _pair(_items(tokens))
    named = list(sides_raw)
    values = _cm([sides_raw[n] for n in named] + loose)
    sides = dict(zip(named, values, strict=False))
    loose_cm = values[len(named) :]
    partial = partial or {}
    if not sides and len(loose_cm) == 1 and partial:
        sides = {("right" if "left" in partial else "left"): loose_cm[0]}
    elif not sides and not loose_cm and partial and SAME.intersection(tokens):
        sides = {("right" if "left" in partial else "left"): next(iter(partial.values()))}
    elif not sides and len(loose_cm) in (1, 2):
        sides = {"left": loose_cm[0], "right": loose_cm[-1]}
    elif not sides:
        raise AnswerError("not_ktw")
    if any(not 0 <= v <= maximum for v in sides.values()):
        raise AnswerError("out_of_range")
    sides = {**partial, **sides}
    if len(sides) == 1 and SAME.intersection(tokens):  # "left 10, right the same"
        sides = dict.fromkeys(("left", "right"), next(iter(sides.values())))
    if len(sides) == 1:
        raise PartialAnswer("one_side", sides)
    return KneeToWall(sides["left"], sides["right"]).to_json()
