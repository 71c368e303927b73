"""How bidders react to the floors they see, read from their logged bids, and the values behind
those bids: what a revenue curve needs to price floors the bidders have not seen yet.

Two reactions (`simulate.market.bidder_behaviour` plays both), each with a mark in the bids
around the floor f that an auction logged (the top bidder's):
- Raising: a bidder meets floors up to a reach k above its value (a value v bids f when
  f / (1 + k) <= v < f). Under the floor, none of its top bids falls between f / (1 + k) and f,
  while bidders who do not react leave bids right up to f; k is read from that gap.
- Shading: a bidder whose value is above the floor bids f + s x (v - f), s < 1, and its value
  under it. So its bids are as dense as its values just under the floor and 1 / s times denser
  just above: the values within `SHADING_WINDOW` over f lie within s x that window in bids,
  and there are about as many as there are bids within the window under f (corrected for the
  slope of the values' density). s is read from that count; a revenue curve then prices a
  floor r at r + s x (second value - r).
A campaign either raises or shades or neither (k = 0, s = 1), read per campaign.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MIN_UNFILLED = 50  # auctions per campaign under (or just under) its floor to read a reaction
NO_REACTION = 0.03
NO_SHADING = 0.15  # a bidder that seems to shade less is read as noise around 1
AT_FLOOR = 1e-6
SHADING_WINDOW = 0.1  # share of the floor either side of it that shading is read from


def raise_reach(auctions: pd.DataFrame) -> dict[str, float]:
    """Campaign -> its bidder's reach k, from unfilled auctions it topped (0 when it does not
    raise or there are too few): the 99th percentile of unfilled top bid / floor, for noise."""
    top, floor = auctions["top_bid_cpm"], auctions["floor_cpm"]
    unfilled = auctions[top.notna() & floor.notna() & (floor > 0) & (top < floor - AT_FLOOR)]
    ratios = (unfilled["top_bid_cpm"] / unfilled["floor_cpm"]).groupby(unfilled["top_campaign_id"])
    reach = {}
    for campaign, ratio in ratios:
        k = 1 / float(np.quantile(ratio, 0.99)) - 1 if len(ratio) >= MIN_UNFILLED else 0.0
        reach[str(campaign)] = k if k > NO_REACTION else 0.0
    return reach


def shading(auctions: pd.DataFrame, reach: dict[str, float]) -> dict[str, float]:
    """Campaign -> its bidder's shading s (1: bids its value), from its top bids near their
    floor; campaigns that raise (`reach`) do not shade. The values just over the floor are
    counted from the bids in the window just under it, extrapolated by the window under that
    one (values are rarely as dense over the floor as under it)."""
    top, floor = auctions["top_bid_cpm"], auctions["floor_cpm"]
    gap = ((top - floor) / floor).where(floor > 0)
    shade = {}
    for campaign, gaps in gap.groupby(auctions["top_campaign_id"]):
        near = int(((gaps < -AT_FLOOR) & (gaps >= -SHADING_WINDOW)).sum())
        further = int(((gaps < -SHADING_WINDOW) & (gaps >= -2 * SHADING_WINDOW)).sum())
        above = np.sort(gaps[gaps > AT_FLOOR].to_numpy())  # at the floor: raisers' bids
        s = 1.0
        if reach.get(str(campaign), 0.0) == 0.0 and min(near, further) >= MIN_UNFILLED:
            values_over = round(near * near / further)
            if 0 < values_over <= len(above):
                s = float(above[values_over - 1]) / SHADING_WINDOW
        shade[str(campaign)] = s if s < 1 - NO_SHADING else 1.0
    return shade


def unshaded(auctions: pd.DataFrame, shade: dict[str, float]) -> pd.DataFrame:
    """Columns `shade` (the top bidder's s), `top_value_cpm` and `second_value_cpm`: the logged
    top two bids with shading toward the auction's floor undone (the second bidder is taken to
    shade as the top one does: exchanges log its bid, not who made it)."""
    s = auctions["top_campaign_id"].map(shade).fillna(1.0).astype(float)
    floor = auctions["floor_cpm"].fillna(0.0)

    def value(bid: pd.Series) -> pd.Series:
        return bid.where(bid <= floor, floor + (bid - floor) / s)

    top = value(auctions["top_bid_cpm"])
    second = value(auctions["second_bid_cpm"]).clip(upper=top)
    return pd.DataFrame({"shade": s, "top_value_cpm": top, "second_value_cpm": second})


def reach_cpm(auctions: pd.DataFrame, reach: dict[str, float]) -> pd.Series:
    """The highest floor each auction fills at: its top value x (1 + k). A top bid that met its
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
    return (auctions["top_value_cpm"] * (1 + k)).where(~met_floor, raised)
