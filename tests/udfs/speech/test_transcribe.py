"""Whisper's repetition loops: a phrase written again right after itself is heard once."""

from __future__ import annotations

from udfs.speech.transcribe import SpokenWord, without_repeats


def said(text: str) -> list[SpokenWord]:
    return [SpokenWord(word, 0.4 * i, 0.4 * i + 0.3, 0.9) for i, word in enumerate(text.split())]


def test_a_phrase_repeated_back_to_back_is_kept_once_with_its_first_times():
    # As tiny.en wrote a sample broadcast's "A word now from Fizz Company".
    kept = without_repeats(said("Out from Fizz Company, Fizz Company, Fizz Company, 1 .0 .0 .0"))
    assert [w.text for w in kept] == ["Out", "from", "Fizz", "Company,", "1", ".0"]
    assert kept[:4] == said("Out from Fizz Company,")


def test_a_name_said_again_later_and_ordinary_speech_are_kept():
    text = "FizzCo scores, and the FizzCo stand cheers. It is two to two"
    assert [w.text for w in without_repeats(said(text))] == text.split()
    assert without_repeats([]) == []
