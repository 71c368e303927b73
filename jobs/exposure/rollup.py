"""Gold rows rolled up over streams, minutes or campaigns: the one place a report, the
dashboard or a notebook sums gold rows. Ratios are recomputed from summed counts, never summed
or averaged themselves:

- share of voice = the brand's screen seconds / all brands' screen seconds in the same scope
  (the same minute for a per-minute view, everything selected for a per-brand view);
- quality index = Σ(quality x screen seconds) / Σ screen seconds;
- viewer-seconds and exposure impressions add up (a viewer who saw the brand in three minutes
  is three exposure impressions, as three ads would be);
- eCPM and CTR from summed revenue, impressions and clicks (`jobs/exposure/metrics.py`).

Summing `share_of_voice` over two streams' rows of one minute gave shares above 100 %.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from jobs.exposure.metrics import ctr, ecpm, ratio

EXPOSURE_COLUMNS = ["screen_seconds", "share_of_voice", "quality_index", "media_value",
                    "appearances", "viewer_seconds", "exposure_impressions"]  # fmt: skip
AUDIENCE_COLUMNS = ["viewer_seconds", "exposure_impressions"]  # null before audience was measured
REVENUE_COLUMNS = ["impressions", "revenue", "ecpm", "clicks", "ctr", "revenue_brand_on_screen",
                   "on_screen_share"]  # fmt: skip


def exposure_rollup(minutes: pd.DataFrame, by: Sequence[str] = ("brand_id",)) -> pd.DataFrame:
    """`gold.brand_exposure_minute` rows summed per `by` (which must include `brand_id`); share
    of voice within the other keys of `by` (all rows when `by` is only the brand)."""
    by = list(by)
    if minutes.empty:
        return pd.DataFrame(columns=[*by, *EXPOSURE_COLUMNS])
    audience = {c: minutes[c].fillna(0) if c in minutes else 0.0 for c in AUDIENCE_COLUMNS}
    summed = (
        minutes.assign(quality_seconds=minutes.quality_index * minutes.screen_seconds, **audience)
        .groupby(by, as_index=False)
        .agg(
            screen_seconds=("screen_seconds", "sum"),
            quality_seconds=("quality_seconds", "sum"),
            media_value=("media_value", "sum"),
            appearances=("appearances", "sum"),
            viewer_seconds=("viewer_seconds", "sum"),
            exposure_impressions=("exposure_impressions", "sum"),
        )
    )
    scope = [key for key in by if key != "brand_id"]
    all_brands = (
        summed.groupby(scope).screen_seconds.transform("sum")
        if scope
        else pd.Series(summed.screen_seconds.sum(), index=summed.index)
    )
    summed["share_of_voice"] = ratio(summed.screen_seconds, all_brands)
    summed["quality_index"] = ratio(summed.quality_seconds, summed.screen_seconds)
    return (
        summed[[*by, *EXPOSURE_COLUMNS]]
        .sort_values("screen_seconds", ascending=False, kind="stable")
        .reset_index(drop=True)
    )


def revenue_rollup(
    minutes: pd.DataFrame, by: Sequence[str] = ("campaign_id", "stream_id")
) -> pd.DataFrame:
    """`gold.revenue_minute` rows summed per `by`: impressions, revenue, clicks, eCPM, CTR, the
    revenue served while the campaign's own brand was on screen and its share of revenue."""
    by = list(by)
    if minutes.empty:
        return pd.DataFrame(columns=[*by, *REVENUE_COLUMNS])
    summed = minutes.groupby(by, as_index=False).agg(
        impressions=("impressions", "sum"),
        revenue=("revenue", "sum"),
        clicks=("clicks", "sum"),
        revenue_brand_on_screen=("revenue_brand_on_screen", "sum"),
    )
    summed["ecpm"] = ecpm(summed.revenue, summed.impressions)
    summed["ctr"] = ctr(summed.clicks, summed.impressions)
    summed["on_screen_share"] = ratio(summed.revenue_brand_on_screen, summed.revenue)
    return (
        summed[[*by, *REVENUE_COLUMNS]]
        .sort_values("revenue", ascending=False, kind="stable")
        .reset_index(drop=True)
    )


QUALITY_PARTS = ["mean_size_share", "position_weight", "clarity", "clutter"]


def quality_breakdown(minutes: pd.DataFrame) -> dict[str, float]:
    """The parts of one brand's quality over `gold.brand_exposure_minute` rows: size, position,
    clarity and clutter, each minute weighted by the brand's screen seconds in it (as the
    minutes weigh their frames by the time each stands for); `max_size_share` the largest."""
    seconds = minutes.screen_seconds.sum() if not minutes.empty else 0.0
    parts = {p: float(ratio((minutes[p] * minutes.screen_seconds).sum(), seconds))
             for p in QUALITY_PARTS}  # fmt: skip
    parts["max_size_share"] = float(minutes.max_size_share.max()) if seconds else 0.0
    return parts
