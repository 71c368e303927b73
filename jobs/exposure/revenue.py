"""Ad impressions in context, and revenue per minute: pure functions over one stream's rows.

An impression takes the context of the latest analysed frame of its stream at or before the
moment it was served, when that frame is at most `frame_max_age_s` older (a bounded stream-stream
join on stream and time). With no such frame, the context is empty (`frame_id` null), never a
guess from a frame after the impression.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from jobs.exposure.metrics import Frame, ctr, ecpm, minute_of

# Brand-safety bands of the frame on screen (1 - P(nsfw)): the lower bound of each band.
SAFETY_BANDS = [(0.0, "unsafe (< 0.5)"), (0.5, "review (0.5-0.8)"), (0.8, "safe (>= 0.8)")]


def safety_band(score: float | None) -> str:
    """The band of a safety score; `not scored` when the frame had none."""
    if score is None or math.isnan(score):
        return "not scored"
    return [label for lower, label in SAFETY_BANDS if score >= lower][-1]


def impression_context(
    impressions: Iterable[dict],
    frames: list[Frame],
    frame_ids: list[str],
    max_age_s: float,
    invalid: Mapping[tuple[str, datetime], str] | None = None,
) -> list[dict]:
    """`gold.impression_context` rows. `frames` (with their `frame_ids`) sorted by time;
    `invalid`: why a (viewer, minute) is invalid traffic (`jobs/audience/ivt.py`)."""
    times = [f.frame_time for f in frames]
    max_age = timedelta(seconds=max_age_s)
    rows = []
    for impression in impressions:
        at = impression["event_time"]
        index = bisect.bisect_right(times, at) - 1
        frame = frames[index] if index >= 0 and at - times[index] <= max_age else None
        brands = sorted({b.brand_id for b in frame.brands}) if frame else []
        rows.append(
            {
                "event_id": impression["event_id"],
                "event_time": at,
                "stream_id": impression["stream_id"],
                "minute": minute_of(at),
                "campaign_id": impression["campaign_id"],
                "brand_id": impression["brand_id"],
                "clearing_cpm": impression["clearing_cpm"],
                "frame_id": frame_ids[index] if frame else None,
                "frame_time": frame.frame_time if frame else None,
                "brands_on_screen": brands,
                "own_brand_on_screen": impression["brand_id"] in brands,
                "scene_label": frame.scene_label if frame else None,
                "safety_score": frame.safety_score if frame else None,
                "viewer_id": impression.get("viewer_id"),
                "invalid_reason": (invalid or {}).get((impression.get("viewer_id"), minute_of(at))),
            }
        )
    return rows


def revenue_minutes(
    contexts: Iterable[dict],
    clicks: Iterable[dict],
    invalid: Mapping[tuple[str, datetime], str] | None = None,
) -> list[dict]:
    """`gold.revenue_minute` rows from impressions in context and clicks; impressions with an
    `invalid_reason` and clicks of a viewer `invalid` in their minute count apart."""
    sums: dict[tuple[str, str, datetime], dict] = {}

    def bucket(stream_id: str, campaign_id: str, minute: datetime) -> dict:
        return sums.setdefault(
            (stream_id, campaign_id, minute),
            {"impressions": 0, "revenue": 0.0, "clicks": 0, "on_screen": 0.0,
             "invalid": 0, "invalid_revenue": 0.0},
        )  # fmt: skip

    for row in contexts:
        s = bucket(row["stream_id"], row["campaign_id"], row["minute"])
        if row.get("invalid_reason"):
            s["invalid"] += 1
            s["invalid_revenue"] += row["clearing_cpm"] / 1000
            continue
        s["impressions"] += 1
        s["revenue"] += row["clearing_cpm"] / 1000
        if row["own_brand_on_screen"]:
            s["on_screen"] += row["clearing_cpm"] / 1000
    for click in clicks:
        minute = minute_of(click["event_time"])
        if (click.get("viewer_id"), minute) not in (invalid or {}):
            bucket(click["stream_id"], click["campaign_id"], minute)["clicks"] += 1
    return [
        {
            "stream_id": stream_id,
            "campaign_id": campaign_id,
            "minute": minute,
            "impressions": s["impressions"],
            "revenue": s["revenue"],
            "ecpm": ecpm(s["revenue"], s["impressions"]),
            "clicks": s["clicks"],
            "ctr": ctr(s["clicks"], s["impressions"]),
            "revenue_brand_on_screen": s["on_screen"],
            "invalid_impressions": s["invalid"],
            "invalid_revenue": s["invalid_revenue"],
        }
        for (stream_id, campaign_id, minute), s in sorted(sums.items())
    ]
