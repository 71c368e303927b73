"""Audience and QoE over many minutes, streams or dimensions, and what QoE does to the ads.

Sums are added and ratios recomputed from the sums (a mean of per-minute ratios would weigh a
minute of 3 viewers as much as one of 3,000), so the dashboard, a notebook and a report agree.
"""

from __future__ import annotations

import pandas as pd

from jobs.audience.metrics import watch_intervals
from jobs.exposure.metrics import ctr, ecpm, ratio


def audience_rollup(minutes: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """`gold.audience_minute` rows summed per `by`: mean concurrent viewers over the minutes
    (per minute, streams added), the highest minute's peak, sessions and invalid viewers."""
    per_minute = minutes.groupby([*by, "minute"], as_index=False).agg(
        viewers=("avg_concurrent_viewers", "sum"),
        peak=("peak_concurrent_viewers", "sum"),
        viewer_seconds=("viewer_seconds", "sum"),
        sessions_started=("sessions_started", "sum"),
        sessions_ended=("sessions_ended", "sum"),
        invalid_viewers=("invalid_viewers", "sum"),
    )
    return per_minute.groupby(by, as_index=False).agg(
        avg_concurrent_viewers=("viewers", "mean"),
        peak_concurrent_viewers=("peak", "max"),
        viewer_hours=("viewer_seconds", lambda s: s.sum() / 3600),
        sessions_started=("sessions_started", "sum"),
        sessions_ended=("sessions_ended", "sum"),
        invalid_viewers=("invalid_viewers", "sum"),
    )


def qoe_rollup(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """`gold.qoe_minute` rows per `by`: startup medians weighted by attempts, rebuffering,
    bitrate, error and abandonment rates from the summed parts."""
    parts = rows.assign(
        bitrate_seconds=rows["mean_bitrate_kbps"].fillna(0) * rows["watched_seconds"],
        startup_weighted=rows["startup_p50_ms"].fillna(0) * rows["attempts"],
        startup_attempts=rows["attempts"].where(rows["startup_p50_ms"].notna(), 0),
    )
    sums = parts.groupby(by, as_index=False)[
        ["sessions", "attempts", "watched_seconds", "rebuffer_seconds", "bitrate_seconds",
         "errors", "abandoned", "startup_weighted", "startup_attempts"]
    ].sum()  # fmt: skip
    return sums.assign(
        startup_ms=ratio(sums["startup_weighted"], sums["startup_attempts"]),
        rebuffer_ratio=ratio(
            sums["rebuffer_seconds"], sums["rebuffer_seconds"] + sums["watched_seconds"]
        ),
        mean_bitrate_kbps=ratio(sums["bitrate_seconds"], sums["watched_seconds"]),
        error_rate=ratio(sums["errors"], sums["sessions"]),
        abandonment_rate=ratio(sums["abandoned"], sums["attempts"]),
    ).drop(columns=["bitrate_seconds", "startup_weighted", "startup_attempts"])


def viewer_rebuffering(events: pd.DataFrame, timeout_s: float) -> pd.DataFrame:
    """Per viewer over the given beacons (`jobs.audience.metrics.beacons`): watched and
    stalled seconds and the rebuffering ratio."""
    spans = watch_intervals(events, timeout_s)
    watched = (spans["end"] - spans["start"]).dt.total_seconds().groupby(spans["viewer_id"]).sum()
    stalled = events.groupby("viewer_id")["rebuffer_ms"].sum() / 1000
    viewers = pd.DataFrame({"watched_seconds": watched, "rebuffer_seconds": stalled}).fillna(0)
    total = viewers["watched_seconds"] + viewers["rebuffer_seconds"]
    return viewers.assign(rebuffer_ratio=ratio(viewers["rebuffer_seconds"], total))


def ads_by_qoe_band(
    viewers: pd.DataFrame,
    contexts: pd.DataFrame,
    clicks: pd.DataFrame,
    completed: pd.Series,
    threshold: float,
) -> pd.DataFrame:
    """Valid impressions, completed ones, revenue, eCPM, clicks and CTR of viewers whose
    rebuffering ratio is over `threshold` and of the others (`viewers` from
    `viewer_rebuffering`; `contexts`: `gold.impression_context` rows; `clicks`: `silver.clicks`
    rows; `completed`: the impression ids of `ad_complete` beacons)."""
    label_over = f"rebuffering > {threshold:.0%}"
    label_under = f"rebuffering <= {threshold:.0%}"
    band = viewers["rebuffer_ratio"].gt(threshold).map({True: label_over, False: label_under})
    valid = contexts[contexts["invalid_reason"].isna()]
    served = valid.assign(band=valid["viewer_id"].map(band)).dropna(subset=["band"])
    clicked = clicks.assign(band=clicks["viewer_id"].map(band)).dropna(subset=["band"])
    served = served.assign(completed=served["event_id"].isin(set(completed)))
    out = served.groupby("band").agg(
        impressions=("event_id", "size"),
        completed=("completed", "sum"),
        revenue=("clearing_cpm", lambda c: c.sum() / 1000),
    )
    out["completion_rate"] = ratio(out["completed"], out["impressions"])
    out["clicks"] = clicked.groupby("band").size().reindex(out.index).fillna(0).astype(int)
    out["viewers"] = band.value_counts().reindex(out.index).fillna(0).astype(int)
    out["ecpm"] = ecpm(out["revenue"], out["impressions"])
    out["ctr"] = ctr(out["clicks"], out["impressions"])
    out["impressions_per_viewer"] = ratio(out["impressions"], out["viewers"])
    return out.reset_index()
