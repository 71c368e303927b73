"""How far above its bid an auction still fills: bidders who meet floors.

Some bidders raise their bid to a floor a little above their value (up to a reach k: a value v
meets floors up to v x (1 + k)). Their logged bids show it: under a floor f none of their top
bids falls between f / (1 + k) and f (those would have been raised to f), while bidders who do
not react leave bids right up to f. So per campaign, k is read from the highest ratio of an
unfilled top bid to its floor (its 99th percentile, for noise); a campaign that leaves bids
within `NO_REACTION` of its floors does not react (k = 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MIN_UNFILLED = 50  # unfilled auctions per campaign to read its reach from
NO_REACTION = 0.03
AT_FLOOR = 1e-6


def raise_reach(auctions: pd.DataFrame) -> dict[str, float]:
    """Campaign -> its bidder's reach k, from unfilled auctions it topped (0 when it does not
    react or there are too few)."""
    top, floor = auctions["top_bid_cpm"], auctions["floor_cpm"]
    unfilled = auctions[top.notna() & floor.notna() & (floor > 0) & (top < floor - AT_FLOOR)]
    ratios = (unfilled["top_bid_cpm"] / unfilled["floor_cpm"]).groupby(unfilled["top_campaign_id"])
    reach = {}
    for campaign, ratio in ratios:
        k = 1 / float(np.quantile(ratio, 0.99)) - 1 if len(ratio) >= MIN_UNFILLED else 0.0
        reach[str(campaign)] = k if k > NO_REACTION else 0.0
    return reach


def reach_cpm(auctions: pd.DataFrame, reach: dict[str, float]) -> pd.Series:
    """The highest floor each auction fills at: its top bid x (1 + k). A top bid that met its
    floor f exactly came from a value somewhere in [f / (1 + k), f): such auctions of one
    campaign and floor are spread evenly over [f, f x (1 + k)), so a revenue curve counts them
    as they would fill on average, without a spike at one point."""
    k = auctions["top_campaign_id"].map(reach).fillna(0.0)
    top, floor = auctions["top_bid_cpm"], auctions["floor_cpm"]
    met_floor = (k > 0) & auctions["filled"].fillna(False) & ((top - floor).abs() <= AT_FLOOR)
    groups = auctions[met_floor].groupby(["top_campaign_id", "floor_cpm"]).cumcount()
    sizes = groups.groupby([auctions["top_campaign_id"], auctions["floor_cpm"]]).transform("size")
    spread = (groups + 0.5) / sizes
    raised = floor[met_floor] * (1 + k[met_floor] * spread)
    return (top * (1 + k)).where(~met_floor, raised)
