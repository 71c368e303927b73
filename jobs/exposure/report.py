"""The per-brand summary `make demo` prints: exposure and revenue from the gold tables."""

from __future__ import annotations

import pandas as pd

from jobs.common.config import Settings
from jobs.common.lake import open_table
from jobs.exposure.rollup import exposure_rollup
from schemas.tables import BRAND_EXPOSURE_MINUTE, BRAND_MENTIONS_MINUTE, IMPRESSION_CONTEXT


def _frame(settings: Settings, name: str, stream_id: str | None) -> pd.DataFrame:
    delta = open_table(settings, name)
    frame = delta.to_pyarrow_table().to_pandas() if delta is not None else pd.DataFrame()
    if stream_id is not None and not frame.empty:
        frame = frame[frame.stream_id == stream_id]
    return frame


def brand_summary(settings: Settings, stream_id: str | None = None) -> list[dict]:
    """Per catalog brand: screen seconds, share of voice, quality index (weighted by screen
    seconds), media value (`jobs/exposure/rollup.py`), and the impressions, revenue and revenue
    on screen of the campaigns of that brand, and the times it was named on screen or out loud
    (`gold.brand_mentions_minute`)."""
    brands = pd.DataFrame({"brand_id": [b.brand_id for b in settings.catalog.brands]})
    exposure = exposure_rollup(
        _frame(settings, BRAND_EXPOSURE_MINUTE.name, stream_id), ["brand_id"]
    )
    served = _frame(settings, IMPRESSION_CONTEXT.name, stream_id)
    if served.empty:
        sold = pd.DataFrame(columns=["brand_id", "impressions", "revenue", "revenue_on_screen"])
    else:
        revenue = served.clearing_cpm / 1000
        sold = (
            served.assign(revenue=revenue, on_screen=revenue * served.own_brand_on_screen)
            .groupby("brand_id", as_index=False)
            .agg(
                impressions=("event_id", "size"),
                revenue=("revenue", "sum"),
                revenue_on_screen=("on_screen", "sum"),
            )
        )
    named = _frame(settings, BRAND_MENTIONS_MINUTE.name, stream_id)
    if named.empty:
        named = pd.DataFrame(columns=["brand_id", "mentions"])
    else:
        named = (
            named.assign(mentions=named.text_mentions + named.speech_mentions)
            .groupby("brand_id", as_index=False)
            .mentions.sum()
        )
    summary = (
        brands.merge(exposure.drop(columns="appearances"), on="brand_id", how="left")
        .merge(sold, on="brand_id", how="left")
        .merge(named, on="brand_id", how="left")
        .fillna(0.0)
        .astype({"impressions": int, "mentions": int})
    )
    return summary.sort_values("screen_seconds", ascending=False, kind="stable").to_dict("records")


def format_summary(rows: list[dict], currency: str) -> str:
    header = (
        f"{'brand':12} {'screen s':>9} {'share':>6} {'quality':>8} {'media value':>12} "
        f"{'impressions':>11} {'revenue':>9} {'on screen':>9} {'named':>6}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r['brand_id']:12} {r['screen_seconds']:9.1f} {r['share_of_voice']:6.1%} "
            f"{r['quality_index']:8.2f} {r['media_value']:8.2f} {currency:3} "
            f"{r['impressions']:11d} {r['revenue']:9.2f} {r['revenue_on_screen']:9.2f} "
            f"{r['mentions']:6d}"
        )
    lines.append(
        f"(screen s: seconds on screen; share: of all brands' screen time; quality 0..1; revenue "
        f"and 'on screen' (served while the brand showed) in {currency}, from impressions; "
        "named: times in captions or said)"
    )
    return "\n".join(lines)
