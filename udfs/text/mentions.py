"""Brand names in read text: each catalog brand's name and aliases found in OCR lines, tolerant
of OCR errors, case and spacing ("FIZZ CO", "Fizz Co", "F1zzCo" are FizzCo).

A window of one to a few words of a line, spaces and punctuation removed, is compared with each
name written the same way: it names the brand within `max_edits` letters (Levenshtein: one for
names of 5-9 letters, two from 10; names shorter than 5 letters need every letter, since one
wrong letter in a short word is another word). The best window per brand and line counts once.
Text printed on a logo is the logo (the brand detector counts it), so `outside_logos` leaves out
what lies inside a detected logo box of the same brand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from udfs.text.ocr import TextLine

_NOT_WORD = re.compile(r"[^0-9a-z]+")


def words(text: str) -> list[str]:
    """Lower-case words of letters and digits."""
    return [w for w in _NOT_WORD.split(text.lower()) if w]


@dataclass(frozen=True)
class BrandName:
    brand_id: str
    name: str  # as the catalog spells it
    squashed: str  # lower case, letters and digits only
    words: int


@dataclass(frozen=True)
class TextMention:
    """A brand named in a line of text."""

    brand_id: str
    matched: str  # the words of the line that name it
    line: str
    similarity: float  # 1 - wrong letters / the name's letters (1: exactly, ignoring case)
    confidence: float  # the OCR's for the line
    box: tuple[float, float, float, float]  # the line's, normalised


def brand_names(brands: Iterable) -> list[BrandName]:
    """Each catalog brand's name and aliases (`Brand.aliases`)."""
    names = []
    for brand in brands:
        for name in [brand.name, *brand.aliases]:
            parts = words(name)
            if parts:
                names.append(BrandName(brand.brand_id, name, "".join(parts), len(parts)))
    return names


def max_edits(name: BrandName) -> int:
    """How many letters a reading may get wrong and still name the brand."""
    letters = len(name.squashed)
    return 0 if letters < 5 else 1 if letters < 10 else 2


def find_mentions(lines: Sequence[TextLine], names: Sequence[BrandName]) -> list[TextMention]:
    """Every brand named in `lines`, once per brand and line."""
    found = []
    for line in lines:
        tokens = words(line.text)
        best: dict[str, tuple[int, str, BrandName]] = {}
        for name in names:
            allowed = max_edits(name)
            for size in range(max(1, name.words - 1), name.words + 2):
                for start in range(0, len(tokens) - size + 1):
                    window = tokens[start : start + size]
                    edits = Levenshtein.distance("".join(window), name.squashed)
                    if edits <= allowed and edits < best.get(name.brand_id, (allowed + 1,))[0]:
                        best[name.brand_id] = (edits, " ".join(window), name)
        found += [
            TextMention(brand_id, matched, line.text,
                        round(1 - edits / len(name.squashed), 3), line.confidence, line.box)
            for brand_id, (edits, matched, name) in sorted(best.items())
        ]  # fmt: skip
    return found


def outside_logos(
    mentions: Sequence[TextMention],
    logos: Iterable[tuple[str, tuple[float, float, float, float]]],
    min_inside: float = 0.5,
) -> list[TextMention]:
    """The mentions not printed on a detected logo of the same brand: a mention is the logo's
    own name when at least `min_inside` of its box lies inside one of the brand's logo boxes
    (`logos`: (brand_id, box) per detection, normalised)."""
    by_brand: dict[str, list[tuple[float, float, float, float]]] = {}
    for brand_id, box in logos:
        by_brand.setdefault(brand_id, []).append(box)
    return [
        mention
        for mention in mentions
        if all(_inside(mention.box, box) < min_inside for box in by_brand.get(mention.brand_id, []))
    ]


def _inside(box: tuple[float, ...], container: tuple[float, ...]) -> float:
    """The share of `box`'s area inside `container`."""
    width = max(0.0, min(box[2], container[2]) - max(box[0], container[0]))
    height = max(0.0, min(box[3], container[3]) - max(box[1], container[1]))
    area = (box[2] - box[0]) * (box[3] - box[1])
    return width * height / area if area > 0 else 0.0
