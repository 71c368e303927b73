"""Bidders' reactions to floors read from their logged bids: the gap raisers leave under a
floor, the crowding shaders make over it, and the values behind the bids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jobs.floors.reaction import raise_reach, reach_cpm, shading, unshaded

FLOOR = 10.0


def logged(bids: dict[str, list[float]]) -> pd.DataFrame:
    """Single-bidder auctions at one floor: each campaign's top bids."""
    frame = pd.DataFrame({
        "top_campaign_id": [c for c, values in bids.items() for _ in values],
        "floor_cpm": FLOOR,
        "top_bid_cpm": [b for values in bids.values() for b in values],
        "second_bid_cpm": np.nan,
    })  # fmt: skip
    frame["filled"] = frame["top_bid_cpm"] >= frame["floor_cpm"]
    return frame


def values(n: int = 5000, seed: int = 4) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(np.log(FLOOR), 0.4, n)


def test_a_bidder_that_meets_floors_leaves_a_gap_under_them():
    v = values()
    frame = logged({
        "raiser": [FLOOR if FLOOR / 1.25 <= x < FLOOR else x for x in v],
        "plain": list(v),
    })  # fmt: skip
    found = raise_reach(frame)
    assert found["raiser"] == pytest.approx(0.25, abs=0.02) and found["plain"] == 0.0
    assert shading(frame, found) == {"raiser": 1.0, "plain": 1.0}
    frame = frame.join(unshaded(frame, {}))
    reach = reach_cpm(frame, found)
    at_floor = (frame.top_campaign_id == "raiser") & (frame.top_bid_cpm == FLOOR)
    assert reach[at_floor].between(FLOOR, FLOOR * (1 + found["raiser"])).all()
    assert reach[at_floor].std() > 0.5  # spread, not one spike
    assert (reach[frame.top_campaign_id == "plain"] == frame.top_bid_cpm[5000:]).all()


def test_a_bidder_that_shades_crowds_its_bids_over_the_floor_and_its_values_come_back():
    v = values(20_000)
    frame = logged({
        "shader": [FLOOR + 0.5 * (x - FLOOR) if x > FLOOR else x for x in v],
        "plain": list(v),
    })  # fmt: skip
    found = shading(frame, raise_reach(frame))
    assert found["shader"] == pytest.approx(0.5, abs=0.07) and found["plain"] == 1.0
    back = unshaded(frame, {"shader": 0.5})
    assert back["top_value_cpm"].to_numpy() == pytest.approx(np.concatenate([v, v]))
    assert (back["shade"] == np.repeat([0.5, 1.0], len(v))).all()
