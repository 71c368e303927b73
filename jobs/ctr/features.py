"""Training rows for the CTR model: every filled auction (an impression) with what was known
when it was served, and whether the viewer clicked it.

A click (a `viewer_events` click) is credited to the impression it names (`impression_id`: the
click URL carries it); a click that names none, to the viewer's latest impression of its
campaign at or before it, within `attribution_minutes` (last touch), as an ad server without
click ids attributes them. Last touch errs when a viewer sees the campaign again before
clicking the first ad, which moves clicks between slot types. The context is the auction's own
log (slot, device, geo, hour, stream, scene, safety, brands on screen): what the ad server saw
when it ranked the bids, which `gold.impression_context` joins again from the frames for
analysts. The hour enters as its daypart.
"""

from __future__ import annotations

import pandas as pd

from jobs.auction.market import safety_band
from jobs.common.config import Catalog

FIELDS = ("slot", "device", "geo", "daypart", "stream", "scene", "safety", "own_brand", "campaign")
# Hours as dayparts: a time-ordered test split (the newest hours) would otherwise hold hours of
# the day the model never trained on.
DAYPARTS = ("night", "morning", "afternoon", "evening")  # from 0, 6, 12 and 18 h UTC


def daypart(hour: int) -> str:
    return DAYPARTS[hour // 6]


MAX_BRANDS = 5  # brands on screen kept per row


def label_clicks(
    impressions: pd.DataFrame, clicks: pd.DataFrame, attribution_minutes: float
) -> pd.Series:
    """1 for each impression a click is credited to, else 0 (see the module docstring).
    `impressions`: auction_id, event_time, viewer_id, campaign_id; `clicks`: event_time,
    viewer_id, campaign_id, impression_id (may be null)."""
    if impressions.empty or clicks.empty:
        return pd.Series(0, index=impressions.index, dtype=int)
    named = clicks["impression_id"].notna()
    credited = set(clicks.loc[named, "impression_id"])
    unnamed = clicks[~named]
    if not unnamed.empty:
        left = unnamed.sort_values("event_time")[["event_time", "viewer_id", "campaign_id"]]
        right = impressions.sort_values("event_time")[
            ["event_time", "viewer_id", "campaign_id", "auction_id"]
        ]
        matched = pd.merge_asof(
            left,
            right,
            on="event_time",
            by=["viewer_id", "campaign_id"],
            direction="backward",
            tolerance=pd.Timedelta(minutes=attribution_minutes),
        )
        credited |= set(matched["auction_id"].dropna())
    return impressions["auction_id"].isin(credited).astype(int)


def feature_rows(auctions: pd.DataFrame, catalog: Catalog, bands: list[float]) -> pd.DataFrame:
    """One row per filled auction: the categorical fields (`FIELDS`, as strings) and the brands
    on screen (a list). `auctions`: bronze.auctions columns."""
    brand_of = {c.campaign_id: c.brand_id for c in catalog.campaigns}
    filled = auctions[auctions["filled"]]
    brands = filled["brands_on_screen"].fillna("").map(lambda s: [b for b in s.split(",") if b])
    own = [
        "yes" if brand_of.get(c) in shown else "no"
        for c, shown in zip(filled["top_campaign_id"], brands, strict=True)
    ]
    return pd.DataFrame(
        {
            "auction_id": filled["event_id"],
            "event_time": filled["event_time"],
            "viewer_id": filled["viewer_id"],
            "campaign_id": filled["top_campaign_id"],
            "slot": filled["slot_type"],
            "device": filled["device"],
            "geo": filled["geo"],
            "daypart": filled["event_time"].dt.hour.map(daypart),
            "stream": filled["stream_id"],
            "scene": filled["scene_label"].fillna("unknown"),
            "safety": [
                safety_band(None if pd.isna(s) else float(s), bands) for s in filled["safety_score"]
            ],
            "own_brand": own,
            "campaign": filled["top_campaign_id"],
            "brands": [b[:MAX_BRANDS] for b in brands],
        },
        index=filled.index,
    )
