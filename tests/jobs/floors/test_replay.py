"""Counterfactual replay by hand, and the experiment's readout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from jobs.auction.floor_rules import FloorRule
from jobs.floors.experiment import hourly_readout, uplift
from jobs.floors.replay import floors_for, oracle, replay

AUCTIONS = pd.DataFrame({
    "stream_id": ["a", "a", "b", "b"],
    "reach_cpm": [10.0, 4.0, 8.0, np.nan],  # the last had no bid
    "top_bid_cpm": [10.0, 4.0, 8.0, np.nan],
    "second_value_cpm": [7.0, np.nan, 2.0, np.nan],
    "static_floor_cpm": [5.0, 5.0, 3.0, 0.0],
    "shade": [1.0, 1.0, 1.0, 1.0],
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
    # Bidders who shade by half toward the floor: a1's second pays 6 + 0.5 x (7 - 6).
    shading = replay("rules", AUCTIONS.assign(shade=0.5), floors)
    assert shading.revenue == pytest.approx(6.5 / 1000)


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


def test_what_both_arms_share_in_a_minute_does_not_widen_the_interval():
    # Every minute's prices move together (what is on screen), in both arms alike: resampling
    # a minute with both its arms cancels that out, as the randomisation by auction does.
    rng = np.random.default_rng(3)
    start = datetime(2026, 11, 22, 10, tzinfo=UTC)
    n = 20_000
    minute = rng.integers(0, 60, n)
    shock = rng.lognormal(0, 0.8, 60)[minute]
    arm = np.where(rng.random(n) < 0.2, "holdout", "treatment")
    price = np.where(arm == "treatment", 5.5, 5.0) * shock
    frame = pd.DataFrame({
        "event_id": [f"a{i}" for i in range(n)],
        "event_time": [start + timedelta(minutes=int(m)) for m in minute],
        "stream_id": "s1",
        "arm": arm,
        "filled": True,
        "clearing_cpm": price,
    })  # fmt: skip
    found = uplift(frame, samples=500)
    assert found.uplift == pytest.approx(0.1, abs=0.02)
    assert found.low > 0.05 and found.high < 0.15
