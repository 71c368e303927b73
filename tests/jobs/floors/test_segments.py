"""Learning a rule set: the tree splits where the bid landscape differs, within its limits."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jobs.auction.floor_rules import ANY
from jobs.floors.segments import learn_segments, rules_of


def auctions(n: int = 6000, seed: int = 2) -> pd.DataFrame:
    """Single-bidder auctions: on arena-live values are 3x those elsewhere; slot type has no
    effect."""
    rng = np.random.default_rng(seed)
    stream = rng.choice(["arena-live", "city-news", "studio-talk"], n)
    scale = np.where(stream == "arena-live", 30.0, 10.0)
    return pd.DataFrame({
        "stream_id": stream,
        "slot_type": rng.choice(["preroll", "midroll"], n),
        "reach_cpm": scale * rng.lognormal(0, 0.3, n),
        "second_value_cpm": np.zeros(n),
        "static_floor_cpm": np.full(n, 1.0),
        "shade": np.ones(n),
    })  # fmt: skip


def test_the_tree_splits_on_the_dimension_that_matters():
    segments = learn_segments(auctions(), ["stream_id", "slot_type"], max_rules=10,
                              min_auctions=300, max_fill_loss=1.0, min_gain=0.002)  # fmt: skip
    rules = {r.match: r.floor_cpm for r in rules_of(segments)}
    assert ("arena-live", ANY) in rules
    arena = rules[("arena-live", ANY)]
    others = [floor for match, floor in rules.items() if match[0] in ("city-news", "studio-talk")]
    assert others and all(arena > 2 * floor for floor in others)
    assert not any(match[1] != ANY for match in rules)  # slot type never pays for a split
    assert (ANY, ANY) in rules  # the root stays: for streams never seen


def test_limits_on_rules_and_auctions_per_rule_hold():
    frame = auctions(n=3000)
    segments = learn_segments(frame, ["stream_id", "slot_type"], max_rules=2, min_auctions=100,
                              max_fill_loss=1.0, min_gain=0.0)  # fmt: skip
    assert len(segments) <= 2
    few = learn_segments(frame, ["stream_id", "slot_type"], max_rules=50, min_auctions=2000,
                         max_fill_loss=1.0, min_gain=0.0)  # fmt: skip
    assert len(few) == 1  # no value has 2000 auctions
