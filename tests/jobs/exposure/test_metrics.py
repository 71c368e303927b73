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


def frames(seconds: list[float], *brands: BrandSeen, interval: float = 0.5) -> list[Frame]:
    return [Frame("s", T0 + timedelta(seconds=t), interval, brands) for t in seconds]


def seen(brand: str = "fizzco", box=CENTRE, confidence: float = 0.8) -> BrandSeen:
    return BrandSeen(brand, confidence, box, (box[2] - box[0]) * (box[3] - box[1]))


def test_a_short_gap_is_bridged_a_long_one_splits():
    shown = frames([0, 0.5, 1.0, 2.0, 2.5], seen())  # missed at 1.5 s
    bridged = appearances(shown, gap_tolerance_s=1.0)
    assert [(a.seconds, a.frames) for a in bridged] == [(3.0, 5)]
    split = appearances(shown, gap_tolerance_s=0.0)
    assert [a.seconds for a in split] == [1.5, 1.0]
    # The bridged gap keeps one appearance but adds no screen time: five frames, 2.5 s.
    (row,) = brand_exposure_minutes(shown, 1.0, QUALITY, rate=0.02)
    assert (row["screen_seconds"], row["appearances"]) == (2.5, 1)


def test_seconds_and_appearances_by_minute():
    shown = frames([58.5, 59.0, 59.5, 60.0, 60.5], seen())
    rows = brand_exposure_minutes(shown, 1.0, QUALITY, rate=0.02)
    assert [(r["minute"], r["screen_seconds"], r["appearances"], r["frames"]) for r in rows] == [
        (T0, 1.5, 1, 3),
        (T0 + timedelta(minutes=1), 1.0, 0, 2),
    ]


def test_share_of_voice_clutter_and_quality():
    both = frames([0, 0.5], seen("fizzco"), seen("lumen", CORNER, 0.5))
    alone = frames([1.0, 1.5], seen("fizzco"))
    weights = QUALITY
    rows = {r["brand_id"]: r for r in brand_exposure_minutes(both + alone, 0.0, weights, rate=0.02)}
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
    assert brand_exposure_minutes([], 1.0, QUALITY, 0.02) == []


def test_each_frame_counts_the_interval_it_stands_for():
    """Frames sampled at any rate, and the boundary frames analysed between samples, count the
    video they stand for: 0.2 s frames at 5 frames/s, and an appearance that starts on a
    boundary frame 1/30 s before a sample."""
    fast = frames([0, 0.2, 0.4, 0.6, 0.8], seen(), interval=0.2)
    (row,) = brand_exposure_minutes(fast, 1.0, QUALITY, rate=0.02)
    assert row["screen_seconds"] == pytest.approx(1.0)
    boundary = [
        Frame("s", T0, 0.4, ()),  # a sample without the brand, until the boundary frame
        Frame("s", T0 + timedelta(seconds=0.4), 0.1, (seen(),)),  # the first frame with it
        Frame("s", T0 + timedelta(seconds=0.5), 0.5, (seen(),)),
        Frame("s", T0 + timedelta(seconds=1.0), 0.5, ()),
    ]
    (appearance,) = appearances(boundary, gap_tolerance_s=1.0)
    assert appearance.seconds == pytest.approx(0.6)
    (row,) = brand_exposure_minutes(boundary, 1.0, QUALITY, rate=0.02)
    assert (row["screen_seconds"], row["frames"]) == (pytest.approx(0.6), 2)


def test_quality_averages_weigh_frames_by_their_interval():
    """A 33 ms boundary frame with a corner box barely moves the minute's mean position."""
    long_centre = [Frame("s", T0, 1.0, (seen(),))]
    short_corner = [Frame("s", T0 + timedelta(seconds=1.0), 1 / 30, (seen(box=CORNER),))]
    (row,) = brand_exposure_minutes(long_centre + short_corner, 1.0, QUALITY, rate=0.02)
    expected = (1.0 * 1.0 + position_weight(CORNER) / 30) / (1 + 1 / 30)
    assert row["position_weight"] == pytest.approx(expected)
