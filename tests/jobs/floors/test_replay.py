"""Counterfactual replay by hand, bidders' floor reach read from their bids, and the
experiment's readout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from jobs.auction.floor_rules import FloorRule
from jobs.floors.experiment import hourly_readout, uplift
from jobs.floors.reaction import raise_reach, reach_cpm
from jobs.floors.replay import floors_for, oracle, replay

AUCTIONS = pd.DataFrame({
    "stream_id": ["a", "a", "b", "b"],
    "reach_cpm": [10.0, 4.0, 8.0, np.nan],  # the last had no bid
    "top_bid_cpm": [10.0, 4.0, 8.0, np.nan],
    "second_bid_cpm": [7.0, np.nan, 2.0, np.nan],
    "static_floor_cpm": [5.0, 5.0, 3.0, 0.0],
})  # fmt: skip


def test_replay_arithmetic():
    rules = [FloorRule("any", ("*",), 6.0), FloorRule("b", ("b",), 9.0)]
    floors = floors_for(AUCTIONS, rules, ["stream_id"])
    assert floors.tolist() == [6.0, 6.0, 9.0, 9.0]
    # a1 fills at max(7, 6) = 7; a2 (4 < 6) and b1 (8 < 9) do not; b2 has no bid.
    replayed = replay("rules", AUCTIONS, floors)
    assert (replayed.auctions, replayed.fills) == (4, 1)
    assert replayed.revenue_per_1000 == pytest.approx(1000 * 7.0 / 1000 / 4)
    static = replay("static", AUCTIONS, AUCTIONS["static_floor_cpm"].to_numpy())
    assert static.fills == 2 and static.revenue == pytest.approx((7.0 + 3.0) / 1000)
    assert floors_for(AUCTIONS, [], ["stream_id"]).tolist() == [5.0, 5.0, 3.0, 0.0]
    assert oracle(AUCTIONS).revenue == pytest.approx(22.0 / 1000)


def test_a_bidder_that_meets_floors_leaves_a_gap_under_them():
    rng = np.random.default_rng(4)
    values = rng.lognormal(np.log(10), 0.4, 5000)
    floor = 10.0

    def bid(v: float, reach: float) -> float:
        return floor if floor / (1 + reach) <= v < floor else v

    frame = pd.DataFrame({
        "top_campaign_id": ["raiser"] * 5000 + ["plain"] * 5000,
        "floor_cpm": floor,
        "top_bid_cpm": [bid(v, 0.25) for v in values] + list(values),
    })  # fmt: skip
    frame["filled"] = frame["top_bid_cpm"] >= frame["floor_cpm"]
    found = raise_reach(frame)
    assert found["raiser"] == pytest.approx(0.25, abs=0.02) and found["plain"] == 0.0
    reach = reach_cpm(frame, found)
    at_floor = (frame.top_campaign_id == "raiser") & (frame.top_bid_cpm == floor)
    assert reach[at_floor].between(floor, floor * (1 + found["raiser"])).all()
    assert reach[at_floor].std() > 0.5  # spread, not one spike
    assert (reach[frame.top_campaign_id == "plain"] == frame.top_bid_cpm[5000:]).all()


def test_the_readout_per_hour_and_arm_and_the_uplift_interval():
    rng = np.random.default_rng(8)
    start = datetime(2026, 11, 22, 10, tzinfo=UTC)
    n = 20_000
    arm = np.where(rng.random(n) < 0.2, "holdout", "treatment")
    price = np.where(arm == "treatment", 6.0, 5.0) * rng.lognormal(0, 0.2, n)
    filled = rng.random(n) < 0.8
    frame = pd.DataFrame({
        "event_id": [f"a{i}" for i in range(n)],
        "event_time": [start + timedelta(seconds=7200 * i / n) for i in range(n)],
        "stream_id": rng.choice(["s1", "s2"], n),
        "arm": arm,
        "filled": filled,
        "clearing_cpm": np.where(filled, price, np.nan),
        "floor_version": np.where(arm == "treatment", "v1", None),
    })  # fmt: skip
    found = uplift(frame, samples=300)
    assert found.uplift == pytest.approx(0.2, abs=0.03)
    assert 0 < found.low < found.uplift < found.high
    rows = hourly_readout(frame, samples=200)
    assert [(r["hour"].hour, r["arm"]) for r in rows] == [
        (10, "holdout"), (10, "treatment"), (11, "holdout"), (11, "treatment")]  # fmt: skip
    assert sum(r["auctions"] for r in rows) == n
    treated = rows[1]
    assert treated["floor_versions"] == "v1" and treated["uplift_low"] < treated["uplift"]
    assert rows[0]["uplift"] is None
    assert treated["revenue_per_1000"] == pytest.approx(
        1000 * treated["revenue"] / treated["auctions"]
    )
