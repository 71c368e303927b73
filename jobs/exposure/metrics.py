"""Brand exposure from analysed frames: appearances, screen seconds and quality per minute.

Pure functions over one stream's frames in time order, so the streaming job, the tests and an
analyst's notebook compute exactly the same numbers.

- An analysed frame stands for its `interval_s`: the video until the next analysed frame, as
  `frame_analysis` measured it (0.5 s between samples at 2 fps; less around the boundary frames
  it adds where brands change). Screen seconds = the intervals of the frames showing the brand,
  counted in each frame's minute. Bridged gaps add no screen time (the logo was not seen then:
  measured on a sample broadcast, counting them overstated screen time by up to 18 %).
- An appearance is a run of frames showing the brand; a gap of up to `gap_tolerance_s` without
  it (a missed detection, an occluder passing) does not split the run. An appearance covers
  [first frame, last frame + its interval); appearances of a minute are those that start in it.
- Size (mean and max `area_share`), position, clarity (detector confidence) and clutter (other
  brands in the same frame) average over the minute's frames that show the brand, each frame
  weighted by its interval (a boundary frame standing for 33 ms weighs as little).
- Share of voice: the brand's screen seconds / all brands' screen seconds, per stream and minute.
- Quality index (0..1), a weighted sum whose weights live in `conf/` (`exposure.quality`):

      quality = w_size     * min(1, mean_size_share / size_full_share)
              + w_position * mean_position          (1 at the centre, 0 in a corner)
              + w_clarity  * mean_confidence
              + w_duration * min(1, mean_appearance_seconds / duration_full_s)
              + w_clutter  * 1 / (1 + mean_other_brands)

- Media value = screen_seconds * quality * the stream's rate per second (`rate_card`), at the
  rate stamped on the minute when it was first priced: a changed rate card prices new minutes,
  and re-prices old ones only when a backfill asks for it.

The ratios (`ratio`, `share_of_voice`, `ecpm`, `ctr`) take plain numbers or pandas columns, so the
job's rows and every roll-up of them (`jobs/exposure/rollup.py`) use one definition.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import pandas as pd

from jobs.common.config import QualityConf, RateCard

Box = tuple[float, float, float, float]
Number = TypeVar("Number", float, pd.Series)


def ratio(part: Number, whole: Number) -> Number:
    """part / whole, 0 where whole is 0 (no time on screen, no impressions)."""
    if isinstance(whole, pd.Series):
        return (part / whole.where(whole > 0)).fillna(0.0)
    return part / whole if whole else 0.0


def share_of_voice(brand_seconds: Number, all_brands_seconds: Number) -> Number:
    """The brand's share of all brands' screen time in the same stream(s) and minute(s)."""
    return ratio(brand_seconds, all_brands_seconds)


def ecpm(revenue: Number, impressions: Number) -> Number:
    """Revenue per thousand impressions."""
    return ratio(revenue * 1000, impressions)


def ctr(clicks: Number, impressions: Number) -> Number:
    """Clicks per impression."""
    return ratio(clicks, impressions)


def media_value(screen_seconds: float, quality: float, rate_per_second: float) -> float:
    """What the screen time was worth: quality-weighted seconds at the stream's rate."""
    return screen_seconds * quality * rate_per_second


def rate_per_second(rate_card: RateCard, stream_id: str) -> float:
    """The rate card's price of one second of full-quality screen time on the stream."""
    return rate_card.per_stream.get(stream_id, rate_card.default_per_second)


@dataclass(frozen=True)
class BrandSeen:
    brand_id: str
    confidence: float
    box: Box
    area_share: float


@dataclass(frozen=True)
class Frame:
    stream_id: str
    frame_time: datetime
    interval_s: float  # seconds of video the frame stands for
    brands: tuple[BrandSeen, ...] = ()
    scene_label: str | None = None
    safety_score: float | None = None


@dataclass(frozen=True)
class Appearance:
    brand_id: str
    start: datetime
    end: datetime  # exclusive: last frame + its interval
    frames: int

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass
class _MinuteSums:
    screen_seconds: float = 0.0
    appearances: int = 0
    appearance_seconds: list[float] = field(default_factory=list)
    frames: int = 0
    weight: float = 0.0  # the intervals the sums below are weighted by
    size_sum: float = 0.0
    size_max: float = 0.0
    position_sum: float = 0.0
    confidence_sum: float = 0.0
    clutter_sum: float = 0.0


def position_weight(box: Box) -> float:
    """1 when the box's centre is the frame's centre, falling linearly to 0 in a corner."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return max(0.0, 1.0 - math.hypot(cx - 0.5, cy - 0.5) / math.hypot(0.5, 0.5))


def appearances(frames: Iterable[Frame], gap_tolerance_s: float) -> list[Appearance]:
    """Runs of frames showing each brand, flicker of up to `gap_tolerance_s` bridged."""
    return _walk(frames, gap_tolerance_s, {})


def _walk(
    frames: Iterable[Frame],
    gap_tolerance_s: float,
    seconds: dict[tuple[datetime, str], float],
) -> list[Appearance]:
    """Appearances; adds each frame's interval to `seconds[(minute, brand)]` for every brand
    it shows, in that frame's minute."""
    tolerance = timedelta(seconds=gap_tolerance_s + 1e-6)
    open_runs: dict[str, list] = {}  # brand -> [start, end of its last frame, frames]
    done: list[Appearance] = []

    def close(brand: str, run: list) -> None:
        done.append(Appearance(brand, run[0], run[1], run[2]))

    for frame in sorted(frames, key=lambda f: f.frame_time):
        end = frame.frame_time + timedelta(seconds=frame.interval_s)
        for brand in sorted({b.brand_id for b in frame.brands}):
            run = open_runs.get(brand)
            key = (minute_of(frame.frame_time), brand)
            seconds[key] = seconds.get(key, 0.0) + frame.interval_s
            if run is not None and frame.frame_time - run[1] <= tolerance:
                run[1], run[2] = end, run[2] + 1
                continue
            if run is not None:
                close(brand, run)
            open_runs[brand] = [frame.frame_time, end, 1]
    for brand, run in open_runs.items():
        close(brand, run)
    return sorted(done, key=lambda a: (a.start, a.brand_id))


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def brand_exposure_minutes(
    frames: list[Frame],
    gap_tolerance_s: float,
    weights: QualityConf,
    rate: float,
    priced: Mapping[datetime, float] | None = None,
) -> list[dict]:
    """Rows of `gold.brand_exposure_minute` for one stream's frames (any order), priced at
    `rate` per second, or at `priced[minute]` for minutes priced before."""
    if not frames:
        return []
    stream_id = frames[0].stream_id
    sums: dict[tuple[datetime, str], _MinuteSums] = {}
    seconds: dict[tuple[datetime, str], float] = {}
    for appearance in _walk(frames, gap_tolerance_s, seconds):
        first = sums.setdefault((minute_of(appearance.start), appearance.brand_id), _MinuteSums())
        first.appearances += 1
        first.appearance_seconds.append(appearance.seconds)
    for key, on_screen in seconds.items():
        sums.setdefault(key, _MinuteSums()).screen_seconds = on_screen
    for frame in frames:
        brands = {b.brand_id for b in frame.brands}
        for seen in frame.brands:
            s = sums.setdefault((minute_of(frame.frame_time), seen.brand_id), _MinuteSums())
            # Two boxes of a brand in one frame weigh as two frames (as they always have).
            weight = frame.interval_s
            s.frames += 1
            s.weight += weight
            s.size_sum += seen.area_share * weight
            s.size_max = max(s.size_max, seen.area_share)
            s.position_sum += position_weight(seen.box) * weight
            s.confidence_sum += seen.confidence * weight
            s.clutter_sum += len(brands - {seen.brand_id}) * weight
    total_by_minute: dict[datetime, float] = {}
    for (minute, _brand), s in sums.items():
        total_by_minute[minute] = total_by_minute.get(minute, 0.0) + s.screen_seconds
    rows = []
    for (minute, brand), s in sorted(sums.items()):
        weight = s.weight or 1.0  # frames of no duration: their sums are 0 too
        mean_size = s.size_sum / weight
        mean_position = s.position_sum / weight
        mean_confidence = s.confidence_sum / weight
        mean_clutter = s.clutter_sum / weight
        mean_duration = (
            sum(s.appearance_seconds) / len(s.appearance_seconds) if s.appearance_seconds else 0
        )
        quality = (
            weights.size * min(1.0, mean_size / weights.size_full_share)
            + weights.position * mean_position
            + weights.clarity * mean_confidence
            + weights.duration * min(1.0, mean_duration / weights.duration_full_s)
            + weights.clutter / (1.0 + mean_clutter)
        )
        minute_rate = (priced or {}).get(minute, rate)
        rows.append(
            {
                "stream_id": stream_id,
                "brand_id": brand,
                "minute": minute,
                "screen_seconds": s.screen_seconds,
                "appearances": s.appearances,
                "frames": s.frames,
                "mean_size_share": mean_size,
                "max_size_share": s.size_max,
                "position_weight": mean_position,
                "clarity": mean_confidence,
                "clutter": mean_clutter,
                "share_of_voice": share_of_voice(s.screen_seconds, total_by_minute[minute]),
                "quality_index": quality,
                "media_value": media_value(s.screen_seconds, quality, minute_rate),
                "rate_per_second": minute_rate,
            }
        )
    return rows
