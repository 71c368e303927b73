"""Brand names in read text: tolerant of OCR errors, case and spacing, strict for short names,
and not counting a logo's own printed name."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from udfs.text.mentions import brand_names, find_mentions, find_spoken, outside_logos
from udfs.text.ocr import TextLine

BRANDS = [
    SimpleNamespace(brand_id="fizzco", name="FizzCo", aliases=["Fizz Company"]),
    SimpleNamespace(brand_id="pinecrest", name="Pinecrest", aliases=[]),
    SimpleNamespace(brand_id="zap", name="Zap", aliases=[]),
]
NAMES = brand_names(BRANDS)
BOTTOM = (0.05, 0.8, 0.6, 0.88)


def line(text: str, box=BOTTOM) -> TextLine:
    return TextLine(text, 0.95, box)


def brands_in(text: str) -> list[str]:
    return [m.brand_id for m in find_mentions([line(text)], NAMES)]


def test_names_are_found_whatever_the_case_spacing_or_a_misread_letter():
    assert brands_in("Brought to you by FIZZ CO") == ["fizzco"]
    assert brands_in("fizzco.com/summer") == ["fizzco"]
    assert brands_in("The Fizz Company cup") == ["fizzco"]  # an alias
    assert brands_in("Pinecrcst trail run") == ["pinecrest"]  # OCR read e for c
    assert brands_in("F1zzCo and Pinecrest present") == ["fizzco", "pinecrest"]


def test_other_words_are_not_brands():
    assert brands_in("Fizzing with excitement at the crest") == []
    assert brands_in("Pine forest") == []
    assert brands_in("") == []


def test_a_short_name_needs_every_letter():
    assert brands_in("ZAP energy") == ["zap"]
    assert brands_in("Zip code") == [] and brands_in("Map of the arena") == []


def test_a_name_counts_once_per_line_with_the_words_that_name_it():
    (mention,) = find_mentions([line("FizzCo FizzCo FIZZ CO")], NAMES)
    assert (mention.matched, mention.similarity) == ("fizzco", 1.0)
    assert mention.line == "FizzCo FizzCo FIZZ CO" and mention.box == BOTTOM


def test_a_logos_printed_name_is_the_logo_not_a_mention():
    on_logo = line("FizzCo", (0.42, 0.30, 0.52, 0.36))
    caption = line("FizzCo summer cup")
    mentions = find_mentions([on_logo, caption], NAMES)
    logos = [("fizzco", (0.40, 0.25, 0.55, 0.40)), ("pinecrest", (0.0, 0.7, 1.0, 1.0))]
    kept = outside_logos(mentions, logos)
    assert [m.line for m in kept] == ["FizzCo summer cup"]
    # another brand's logo around it does not swallow it
    assert outside_logos(mentions, [("pinecrest", (0.40, 0.25, 0.55, 0.40))]) == mentions


def test_every_time_a_name_is_said_counts_with_its_words_times():
    from udfs.speech.transcribe import SpokenWord

    said = ["Brought", "to", "you", "by", "Fizz", "Co", "and", "again", "FizzCo.", "Pine",
            "forests", "and", "Zap"]  # fmt: skip
    spoken = [SpokenWord(w, i * 0.5, i * 0.5 + 0.4, 0.9 - i / 100) for i, w in enumerate(said)]
    found = find_spoken(spoken, NAMES, context_words=2)
    assert [(m.brand_id, m.matched, m.start_s, m.end_s) for m in found] == [
        ("fizzco", "fizz co", 2.0, 2.9),
        ("fizzco", "fizzco", 4.0, 4.4),
        ("zap", "zap", 6.0, 6.4),
    ]
    assert found[0].sentence == "you by Fizz Co and again"
    assert found[0].confidence == pytest.approx(0.9 - 5 / 100)  # its least sure word
    assert find_spoken([], NAMES) == []


def test_the_hotword_list_written_back_is_not_heard_as_names_said():
    from udfs.speech.transcribe import SpokenWord

    hotwords = sorted(name.name for name in NAMES)  # Fizz Company, FizzCo, Pinecrest, Zap

    def heard(text: str, given: list[str] = hotwords) -> list[str]:
        said = [SpokenWord(w, i / 3, i / 3 + 0.3, 0.9) for i, w in enumerate(text.split())]
        return [m.brand_id for m in find_spoken(said, NAMES, given)]

    # the list, in its order, after a name said: the name counts, the rest of the list not
    assert heard("from Fizz Company, Pinecrest, Zap") == ["fizzco"]
    assert heard("Pinecrest, Zap,") == ["pinecrest"]
    # names with a word between them, or against the list's order, were said
    assert heard("by Pinecrest and Zap") == ["pinecrest", "zap"]
    assert heard("Zap, Pinecrest") == ["zap", "pinecrest"]
    # without the list given, every name counts
    assert heard("from Fizz Company, Pinecrest, Zap", []) == ["fizzco", "pinecrest", "zap"]


def test_a_name_takes_its_longest_equally_close_window():
    from udfs.speech.transcribe import SpokenWord

    brands = [SimpleNamespace(brand_id="aquapure", name="AquaPure", aliases=["Aqua Pure Water"])]
    said = [
        SpokenWord(w, i / 3, i / 3 + 0.3, 0.9) for i, w in enumerate(["Aqua", "Pure", "Water,"])
    ]
    (mention,) = find_spoken(said, brand_names(brands))
    assert (mention.matched, mention.end_s) == ("aqua pure water", said[-1].end_s)
