"""One round of floor optimisation over logged auctions, on the driver (pandas and numpy):
learn a rule set on the older part of the window, replay it and the baselines on the newest
part (`yield_optimization.replay_share`), and decide whether to publish it.

Baselines on the replay window, all over the learnt segments: the static campaign floors, the
rules in force now, a fill-constrained quantile of the segment's reaches, the Myerson reserve
of a lognormal fitted to its bids; and two ceilings: the same segments' best floors chosen in
hindsight on the replay window itself, and each auction's own top bid (the oracle).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from jobs.auction.floor_rules import FloorRule, FloorRules
from jobs.auction.market import safety_band
from jobs.common.config import Catalog, YieldConf
from jobs.floors.landscape import best_reserve, myerson_lognormal_reserve, quantile_reserve
from jobs.floors.reaction import raise_reach, reach_cpm, shading, unshaded
from jobs.floors.replay import Replay, floors_for, matching_rules, oracle, replay
from jobs.floors.segments import Segment, landscape_of, learn_segments, rule_id, rules_of

METHOD = "empirical-revenue-curve"
AUCTION_COLUMNS = [
    "event_id", "event_time", "stream_id", "slot_type", "device", "geo", "brands_on_screen",
    "safety_score", "arm", "floor_cpm", "floor_version", "top_campaign_id", "top_bid_cpm",
    "second_bid_cpm", "filled", "clearing_cpm",
]  # fmt: skip


def prepare(auctions: pd.DataFrame, catalog: Catalog, conf: YieldConf) -> pd.DataFrame:
    """Logged auctions (bronze.auctions columns) with what the rules match on: the top bidder's
    campaign and own brand on screen, the safety band; the static floor of the top bidder, and
    the bidders' reaction to floors undone: the top two values, the top bidder's shading and the
    highest floor each auction fills at (`reach_cpm`; `jobs/floors/reaction.py`)."""
    brand = {c.campaign_id: c.brand_id for c in catalog.campaigns}
    static = {c.campaign_id: c.floor_cpm for c in catalog.campaigns}
    out = auctions.copy()
    top_brand = out["top_campaign_id"].map(brand)
    on_screen = [
        isinstance(b, str) and isinstance(shown, str) and b in shown.split(",")
        for b, shown in zip(top_brand, out["brands_on_screen"], strict=True)
    ]
    out["own_brand_on_screen"] = np.where(on_screen, "yes", "no")
    out["safety_band"] = [
        safety_band(None if pd.isna(s) else float(s), conf.safety_bands)
        for s in out["safety_score"]
    ]
    out["campaign_id"] = out["top_campaign_id"].fillna("")
    out["static_floor_cpm"] = out["top_campaign_id"].map(static).fillna(0.0).astype(float)
    reach = raise_reach(out)
    out = out.join(unshaded(out, shading(out, reach)))
    out["reach_cpm"] = reach_cpm(out, reach)
    return out


@dataclass(frozen=True)
class Optimisation:
    rules: FloorRules
    segments: list[Segment]
    replays: dict[str, Replay]  # by method, on the replay window
    publish: bool
    reason: str
    train_auctions: int
    replay_auctions: int

    def summary(self) -> dict:
        return {
            "version": self.rules.version,
            "rules": len(self.rules.rules),
            "train_auctions": self.train_auctions,
            "replay_auctions": self.replay_auctions,
            "publish": self.publish,
            "reason": self.reason,
            "replay": {k: r.summary() for k, r in self.replays.items()},
        }


def split_window(auctions: pd.DataFrame, replay_share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(older, newest `replay_share`) of the auctions by event time."""
    ordered = auctions.sort_values("event_time", kind="stable")
    cut = round(len(ordered) * (1 - replay_share))
    return ordered.iloc[:cut], ordered.iloc[cut:]


def optimise(
    auctions: pd.DataFrame,
    conf: YieldConf,
    current: FloorRules | None,
    version: str,
    now: datetime,
    currency: str,
) -> Optimisation:
    """Learn, replay and decide (see the module docstring); `auctions` from `prepare`."""
    train, held = split_window(auctions, conf.replay_share)
    with_bids = train[train["top_bid_cpm"].notna()].reset_index(drop=True)
    dimensions = list(conf.dimensions)
    segments = learn_segments(
        with_bids, dimensions, conf.max_rules, conf.min_auctions_per_rule, conf.max_fill_loss,
        conf.min_split_gain,
    )  # fmt: skip
    rules = FloorRules(
        version, METHOD, tuple(dimensions), rules_of(segments), now, conf.holdout_share, currency
    )

    def by_segment(floor_of) -> list[FloorRule]:
        return [FloorRule(rule_id(s.match), s.match, floor_of(s)) for s in segments]

    def on(name: str, rule_set) -> Replay:
        return replay(name, held, floors_for(held, rule_set, dimensions))

    whole = landscape_of(with_bids)

    def landscape(s: Segment):
        return whole.take(s.rows)

    replays = {
        "static": replay("static campaign floors", held, held["static_floor_cpm"].to_numpy(float)),
        "learnt": on(f"learnt ({METHOD})", rules.rules),
        "quantile": on("fill-constrained quantile", by_segment(
            lambda s: quantile_reserve(landscape(s), conf.max_fill_loss).floor)),
        "myerson": on("lognormal Myerson reserve", by_segment(
            lambda s: myerson_lognormal_reserve(landscape(s)).floor)),
        "hindsight": on("hindsight: best floors on the replay window", _hindsight(
            held, segments, dimensions, conf.max_fill_loss)),
        "oracle": oracle(held),
    }  # fmt: skip
    if current is not None and tuple(current.dimensions) == tuple(dimensions):
        replays["current"] = on(f"rules in force ({current.version})", current.rules)
    publish, reason = decide(replays, conf.max_fill_loss)
    return Optimisation(rules, segments, replays, publish, reason, len(train), len(held))


def _hindsight(
    held: pd.DataFrame, segments: list[Segment], dimensions: list[str], max_fill_loss: float
) -> list[FloorRule]:
    """The learnt segments' best floors chosen on the replay window's own bids."""
    found = matching_rules(held, rules_of(segments), dimensions)
    with_bids = held["top_bid_cpm"].notna().to_numpy()
    rules = []
    for index, segment in enumerate(segments):
        rows = np.flatnonzero((found == index) & with_bids)
        floor = best_reserve(landscape_of(held, rows), max_fill_loss).floor if len(rows) else None
        rules.append(FloorRule(rule_id(segment.match), segment.match,
                               segment.reserve.floor if floor is None else floor))  # fmt: skip
    return rules


def decide(replays: dict[str, Replay], max_fill_loss: float) -> tuple[bool, str]:
    """Publish when the learnt rules earn more per 1000 auctions on the replay than what is in
    force (the current rules, else the static floors) and lose at most `max_fill_loss` of fill
    against the static floors."""
    learnt, static = replays["learnt"], replays["static"]
    incumbent = replays.get("current", static)
    if static.fill_rate - learnt.fill_rate > max_fill_loss + 1e-9:
        return False, (
            f"fill rate {learnt.fill_rate:.3f} is more than {max_fill_loss:.0%} under the static "
            f"floors' {static.fill_rate:.3f}"
        )
    if learnt.revenue_per_1000 <= incumbent.revenue_per_1000:
        return False, (
            f"revenue per 1000 auctions {learnt.revenue_per_1000:.3f} is no better than "
            f"{incumbent.name}'s {incumbent.revenue_per_1000:.3f}"
        )
    gain = learnt.revenue_per_1000 / incumbent.revenue_per_1000 - 1 if incumbent.revenue else 0
    return True, f"revenue per 1000 auctions {gain:+.1%} against {incumbent.name} on the replay"
