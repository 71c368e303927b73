"""On-screen text read by the shipped PP-OCRv4 models, and brand names found in it: captions
and lower thirds rendered on frames, read back, matched to the catalog."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from jobs.common.config import load_settings
from udfs.text.mentions import brand_names, find_mentions, words
from udfs.text.ocr import TextReader

FONT = cv2.FONT_HERSHEY_DUPLEX


def frame_with(lines: list[tuple[str, int, int]], background: int = 70) -> np.ndarray:
    """A 1280x720 RGB frame with each (text, x, y) drawn as a lower third: white on a bar."""
    frame = np.full((720, 1280, 3), background, np.uint8)
    for text, x, y in lines:
        (width, height), _ = cv2.getTextSize(text, FONT, 1.4, 2)
        cv2.rectangle(frame, (x - 12, y - height - 14), (x + width + 12, y + 16), (30, 30, 110), -1)
        cv2.putText(frame, text, (x, y), FONT, 1.4, (255, 255, 255), 2, cv2.LINE_AA)
    return frame


@pytest.fixture(scope="module")
def reader() -> TextReader:
    return TextReader()


def test_lines_are_read_with_their_place_on_the_frame(reader):
    frame = frame_with([("Brought to you by FizzCo", 80, 620), ("LIVE Arena final", 760, 90)])
    lines = reader.read(frame)
    read = {" ".join(words(line.text)): line for line in lines}
    assert set(read) == {"brought to you by fizzco", "live arena final"}
    caption = read["brought to you by fizzco"].box
    assert caption[0] < 0.08 and 0.75 < caption[1] < caption[3] < 0.9  # bottom left
    assert all(0.6 <= line.confidence <= 1 for line in lines)


def test_lines_found_on_a_smaller_copy_are_read_as_on_the_frame_itself(reader):
    """Finding lines on a 640 px copy (the default) reads what finding them at full size reads,
    with the boxes in the frame's own place."""
    frame = frame_with([("Official partner: Pinecrest", 60, 650), ("Final score 2-1", 900, 80)])
    small = sorted(reader.read(frame), key=lambda line: line.box)
    full = sorted(TextReader(detect_side=0).read(frame), key=lambda line: line.box)
    assert reader.detect_side == 640 and len(small) == len(full) == 2
    for found, reference in zip(small, full, strict=True):
        assert found.text == reference.text
        assert max(abs(a - b) for a, b in zip(found.box, reference.box, strict=True)) < 0.01


def test_a_frame_without_text_reads_nothing_and_names_no_brand(reader):
    assert reader.read(np.full((720, 1280, 3), 70, np.uint8)) == []
    noise = np.random.default_rng(3).integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    names = brand_names(load_settings().catalog.brands)
    assert find_mentions(reader.read(noise), names) == []


def test_every_catalog_name_and_alias_read_from_a_caption_is_that_brand(reader):
    brands = load_settings().catalog.brands
    names = brand_names(brands)
    for name in names:
        lines = reader.read(frame_with([(f"Official partner {name.name.upper()}", 100, 600)]))
        found = find_mentions(lines, names)
        assert [m.brand_id for m in found] == [name.brand_id], (name, lines)
    plain = reader.read(frame_with([("Weather update for the weekend", 100, 600)]))
    assert plain and find_mentions(plain, names) == []
