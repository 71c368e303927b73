"""Brand names in read or heard text: each catalog brand's name and aliases found in OCR lines
or transcribed speech, tolerant of misread letters, case and spacing ("FIZZ CO", "Fizz Co",
"F1zzCo" are FizzCo).

A window of one to a few words of a line, spaces and punctuation removed, is compared with each
name written the same way: it names the brand within `max_edits` letters (Levenshtein: one for
names of 5-9 letters, two from 10; names shorter than 5 letters need every letter, since one
wrong letter in a short word is another word). The best window per brand and line counts
once; in speech, every time the name is said.
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


def best_windows(tokens: Sequence[str], names: Sequence[BrandName]) -> dict[str, tuple]:
    """Per brand named in `tokens` (lower-case words): (wrong letters, first token, tokens,
    the name) of its closest window of one to a few words."""
    best: dict[str, tuple[int, int, int, BrandName]] = {}
    for name in names:
        allowed = max_edits(name)
        for size in range(max(1, name.words - 1), name.words + 2):
            for start in range(0, len(tokens) - size + 1):
                edits = Levenshtein.distance("".join(tokens[start : start + size]), name.squashed)
                if edits <= allowed and edits < best.get(name.brand_id, (allowed + 1,))[0]:
                    best[name.brand_id] = (edits, start, size, name)
    return best


def similarity(edits: int, name: BrandName) -> float:
    """1 - wrong letters / the name's letters (1: exactly, ignoring case and spacing)."""
    return round(1 - edits / len(name.squashed), 3)


def find_mentions(lines: Sequence[TextLine], names: Sequence[BrandName]) -> list[TextMention]:
    """Every brand named in `lines`, once per brand and line."""
    found = []
    for line in lines:
        tokens = words(line.text)
        found += [
            TextMention(brand_id, " ".join(tokens[start : start + size]), line.text,
                        similarity(edits, name), line.confidence, line.box)
            for brand_id, (edits, start, size, name) in sorted(best_windows(tokens, names).items())
        ]  # fmt: skip
    return found


@dataclass(frozen=True)
class SpokenMention:
    """A brand named in speech: the words that name it and when they were said."""

    brand_id: str
    matched: str
    sentence: str  # the words around it (a few either side)
    similarity: float
    confidence: float  # the least sure of its words' probabilities
    start_s: float
    end_s: float


def find_spoken(
    spoken: Sequence,
    names: Sequence[BrandName],
    hotwords: Sequence[str] = (),
    context_words: int = 6,
) -> list[SpokenMention]:
    """Every time a brand is named in `spoken` (words with `text`, `start_s`, `end_s`,
    `probability`, in order): each window of words that names it, the best per stretch.

    `hotwords`: the list the speech model was given. Where the sound is unclear, tiny.en writes
    that list back ("Aqua Pure Water, Fizz Company, FizzCo"): in a run of names with no word
    between them, a name of another brand that comes later in the list than the run's first
    is taken for the list, not for something said."""
    rank = {}
    for position, hotword in enumerate(hotwords):
        for name in names:
            if name.name == hotword:
                rank.setdefault(name.brand_id, position)
    tokens, word_of = [], []
    for position, word in enumerate(spoken):
        for token in words(word.text):
            tokens.append(token)
            word_of.append(position)
    found: list[SpokenMention] = []
    run_first, run_end = None, -1  # the brand a run of names starts with, the token after it
    position = 0
    while position < len(tokens):
        match = _match_at(tokens, position, names)
        if match is None:
            position += 1
            continue
        edits, size, name = match
        in_run = position == run_end
        run_first = run_first if in_run else name.brand_id
        listed = (
            in_run
            and name.brand_id != run_first
            and rank.get(name.brand_id, -1) > rank.get(run_first, len(hotwords))
        )
        if not listed:
            said = spoken[word_of[position] : word_of[position + size - 1] + 1]
            around = spoken[max(0, word_of[position] - context_words) :
                            word_of[position + size - 1] + context_words + 1]  # fmt: skip
            found.append(
                SpokenMention(name.brand_id, " ".join(tokens[position : position + size]),
                              " ".join(w.text for w in around), similarity(edits, name),
                              min(w.probability for w in said), said[0].start_s,
                              said[-1].end_s)
            )  # fmt: skip
        position = run_end = position + size
    return found


def _match_at(
    tokens: Sequence[str], position: int, names: Sequence[BrandName]
) -> tuple[int, int, BrandName] | None:
    """The name the words from `position` on say best, if any: (wrong letters, words, name).
    Of equally close windows the longest: "Aqua Pure Water" is one name, not "Aqua Pure" and
    a word after it."""
    best = None
    for name in names:
        for size in range(max(1, name.words - 1), name.words + 2):
            if position + size > len(tokens):
                break
            edits = Levenshtein.distance("".join(tokens[position : position + size]), name.squashed)
            if edits <= max_edits(name) and (best is None or (edits, -size) < (best[0], -best[1])):
                best = (edits, size, name)
    return best


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
