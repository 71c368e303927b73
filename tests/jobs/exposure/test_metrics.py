"""Brand exposure metrics on hand-built frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobs.common.config import load_settings
from jobs.exposure.metrics import (
    BrandSeen,
    Frame,
    appearances,
    brand_exposure_minutes,
    position_weight,
)

QUALITY = load_settings().exposure.quality
T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
CENTRE = (0.4, 0.4, 0.6, 0.6)  # 4 % of the frame, centred
CORNER = (0.0, 0.0, 0.1, 0.1)


def frames(seconds: list[float], *brands: BrandSeen) -> list[Frame]:
    return [Frame("s", T0 + timedelta(seconds=t), brands) for t in seconds]


def seen(brand: str = "fizzco", box=CENTRE, confidence: float = 0.8) -> BrandSeen:
    return BrandSeen(brand, confidence, box, (box[2] - box[0]) * (box[3] - box[1]))


def test_a_short_gap_is_bridged_a_long_one_splits():
    shown = frames([0, 0.5, 1.0, 2.0, 2.5], seen())  # missed at 1.5 s
    bridged = appearances(shown, step_s=0.5, gap_tolerance_s=1.0)
    assert [(a.seconds, a.frames) for a in bridged] == [(3.0, 5)]
    split = appearances(shown, step_s=0.5, gap_tolerance_s=0.0)
    assert [a.seconds for a in split] == [1.5, 1.0]
    # The bridged gap keeps one appearance but adds no screen time: five frames, 2.5 s.
    (row,) = brand_exposure_minutes(shown, 0.5, 1.0, QUALITY, rate=0.02)
    assert (row["screen_seconds"], row["appearances"]) == (2.5, 1)


def test_seconds_and_appearances_by_minute():
    shown = frames([58.5, 59.0, 59.5, 60.0, 60.5], seen())
    rows = brand_exposure_minutes(shown, 0.5, 1.0, QUALITY, rate=0.02)
    assert [(r["minute"], r["screen_seconds"], r["appearances"], r["frames"]) for r in rows] == [
        (T0, 1.5, 1, 3),
        (T0 + timedelta(minutes=1), 1.0, 0, 2),
    ]


def test_share_of_voice_clutter_and_quality():
    both = frames([0, 0.5], seen("fizzco"), seen("lumen", CORNER, 0.5))
    alone = frames([1.0, 1.5], seen("fizzco"))
    weights = QUALITY
    rows = {
        r["brand_id"]: r for r in brand_exposure_minutes(both + alone, 0.5, 0.0, weights, rate=0.02)
    }
    fizz, lumen = rows["fizzco"], rows["lumen"]
    assert (fizz["screen_seconds"], lumen["screen_seconds"]) == (2.0, 1.0)
    assert fizz["share_of_voice"] == pytest.approx(2 / 3)
    assert fizz["clutter"] == pytest.approx(0.5) and lumen["clutter"] == 1.0
    assert fizz["position_weight"] == pytest.approx(1.0) and lumen["position_weight"] < 0.2
    expected = (
        0.3 * min(1, 0.04 / 0.05) + 0.2 * 1.0 + 0.2 * 0.8 + 0.2 * (2.0 / 5.0) + 0.1 / (1 + 0.5)
    )
    assert fizz["quality_index"] == pytest.approx(expected)
    assert fizz["media_value"] == pytest.approx(2.0 * expected * 0.02)
    assert lumen["quality_index"] < fizz["quality_index"]


def test_position_weight():
    assert position_weight(CENTRE) == pytest.approx(1.0)
    assert position_weight((0.0, 0.0, 0.0, 0.0)) == 0.0
    assert 0.4 < position_weight((0.7, 0.7, 0.8, 0.8)) < 0.6


def test_no_frames_no_rows():
    assert brand_exposure_minutes([], 0.5, 1.0, QUALITY, 0.02) == []
