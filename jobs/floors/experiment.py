"""The yield experiment's readout: treatment (published floors) against holdout (static floors),
per hour and arm, with a bootstrap interval of the uplift in revenue per 1000 auctions.

The interval resamples stream-minutes (all of one stream's auctions in one minute, which share
what was on screen) with replacement within each stream, both arms of a minute together: a
cluster bootstrap, stratified by stream, so streams keep their weight, correlated auctions move
together, and what the arms share (the screen, the hour's bidders) cancels out as it does in
the experiment itself, which assigns arms by auction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from jobs.auction.market import HOLDOUT, TREATMENT


@dataclass(frozen=True)
class Uplift:
    treatment_rpm: float  # revenue per 1000 auctions
    holdout_rpm: float
    uplift: float  # treatment / holdout - 1
    low: float  # 95 % interval
    high: float
    fill_rate_delta: float  # treatment - holdout, in points (0.01 = 1 point)


def _clusters(auctions: pd.DataFrame) -> pd.DataFrame:
    """Per stream, arm and minute: auctions, fills, revenue (currency units)."""
    frame = auctions.assign(
        minute=auctions["event_time"].dt.floor("min"),
        revenue=auctions["clearing_cpm"].fillna(0.0) / 1000,
        fill=auctions["filled"].astype(int),
    )
    return frame.groupby(["stream_id", "arm", "minute"], as_index=False).agg(
        auctions=("event_id", "size"), fills=("fill", "sum"), revenue=("revenue", "sum")
    )


def uplift(auctions: pd.DataFrame, samples: int, seed: int = 0) -> Uplift | None:
    """Treatment against holdout over `auctions`; None when an arm has none."""
    clusters = _clusters(auctions)
    totals = clusters.groupby("arm")[["auctions", "fills", "revenue"]].sum()
    if not {TREATMENT, HOLDOUT} <= set(totals.index):
        return None
    rng = np.random.default_rng(seed)
    cells = clusters.pivot_table(
        index=["stream_id", "minute"], columns="arm", values=["revenue", "auctions"], fill_value=0
    )
    columns = [(m, arm) for arm in (TREATMENT, HOLDOUT) for m in ("revenue", "auctions")]
    resampled = np.zeros((samples, len(columns)))
    for _, of_stream in cells.groupby(level="stream_id"):
        values = of_stream.reindex(columns=columns, fill_value=0).to_numpy(float)
        picks = rng.integers(0, len(values), size=(samples, len(values)))
        resampled += values[picks].sum(axis=1)
    rpm = {TREATMENT: 1000 * resampled[:, 0] / np.maximum(resampled[:, 1], 1),
           HOLDOUT: 1000 * resampled[:, 2] / np.maximum(resampled[:, 3], 1)}  # fmt: skip
    ratios = rpm[TREATMENT] / np.maximum(rpm[HOLDOUT], 1e-12) - 1
    point = {arm: 1000 * totals.at[arm, "revenue"] / totals.at[arm, "auctions"]
             for arm in (TREATMENT, HOLDOUT)}  # fmt: skip
    fill = {arm: totals.at[arm, "fills"] / totals.at[arm, "auctions"] for arm in point}
    low, high = np.quantile(ratios, [0.025, 0.975])
    return Uplift(
        treatment_rpm=float(point[TREATMENT]),
        holdout_rpm=float(point[HOLDOUT]),
        uplift=float(point[TREATMENT] / point[HOLDOUT] - 1) if point[HOLDOUT] else float("nan"),
        low=float(low),
        high=float(high),
        fill_rate_delta=float(fill[TREATMENT] - fill[HOLDOUT]),
    )


def hourly_readout(auctions: pd.DataFrame, samples: int, seed: int = 0) -> list[dict]:
    """Rows of `gold.yield_experiment`: per hour and arm, auctions, fills, fill rate, revenue,
    revenue per 1000 auctions, eCPM and the floor versions in force; the treatment row carries
    the hour's uplift and its interval."""
    rows = []
    hours = auctions["event_time"].dt.floor("h")
    for hour, in_hour in auctions.groupby(hours):
        found = uplift(in_hour, samples, seed)
        for arm, of_arm in in_hour.groupby("arm"):
            fills = int(of_arm["filled"].sum())
            revenue = float(of_arm["clearing_cpm"].fillna(0.0).sum()) / 1000
            versions = sorted({v for v in of_arm["floor_version"].dropna() if v})
            rows.append({
                "hour": hour.to_pydatetime(),
                "arm": arm,
                "auctions": len(of_arm),
                "fills": fills,
                "fill_rate": fills / len(of_arm),
                "revenue": revenue,
                "revenue_per_1000": 1000 * revenue / len(of_arm),
                "ecpm": 1000 * revenue / fills if fills else None,
                "floor_versions": ",".join(versions),
                "uplift": found.uplift if found and arm == TREATMENT else None,
                "uplift_low": found.low if found and arm == TREATMENT else None,
                "uplift_high": found.high if found and arm == TREATMENT else None,
                "fill_rate_delta": found.fill_rate_delta if found and arm == TREATMENT else None,
            })  # fmt: skip
    return rows
