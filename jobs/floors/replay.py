"""Counterfactual replay: what a floor rule set would have earned on logged auctions.

Each auction's floor is that of the most specific rule matching it (its own static floor where
none does), and it earns what the revenue curve says (`jobs/floors/landscape.py`: max(second
value, floor) when it reaches the floor, less for bidders who shade): exact for bidders who do
not react to floors, an estimate for those who do (`jobs/floors/reaction.py`; the live
experiment measures them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jobs.auction.floor_rules import ANY, FloorRule
from jobs.floors.landscape import clearing


@dataclass(frozen=True)
class Replay:
    name: str
    auctions: int
    fills: int
    revenue: float  # sum of clearing CPMs / 1000: currency units

    @property
    def fill_rate(self) -> float:
        return self.fills / self.auctions if self.auctions else 0.0

    @property
    def revenue_per_1000(self) -> float:
        """Revenue per 1000 auctions (RPM), the experiment's measure."""
        return 1000 * self.revenue / self.auctions if self.auctions else 0.0

    def summary(self) -> dict:
        return {
            "name": self.name,
            "auctions": self.auctions,
            "fill_rate": round(self.fill_rate, 4),
            "revenue_per_1000": round(self.revenue_per_1000, 4),
        }


def matching_rules(
    auctions: pd.DataFrame, rules: Sequence[FloorRule], dimensions: Sequence[str]
) -> np.ndarray:
    """The position in `rules` of each auction's most specific matching rule; -1 for none."""
    found = np.full(len(auctions), -1)
    columns = [auctions[d].astype(str).to_numpy() for d in dimensions]
    ranked = sorted(range(len(rules)), key=lambda i: (rules[i].specificity, -rules[i].floor_cpm))
    for index in ranked:  # the most specific last, on top (as FloorRules.find)
        mask = np.ones(len(auctions), bool)
        for column, want in zip(columns, rules[index].match, strict=True):
            if want != ANY:
                mask &= column == want
        found[mask] = index
    return found


def floors_for(
    auctions: pd.DataFrame, rules: Sequence[FloorRule], dimensions: Sequence[str]
) -> np.ndarray:
    """Each auction's floor under `rules` (its static floor where no rule matches)."""
    found = matching_rules(auctions, rules, dimensions)
    rule_floors = np.array([r.floor_cpm for r in rules] + [np.nan])
    return np.where(found >= 0, rule_floors[found], auctions["static_floor_cpm"].to_numpy(float))


def replay(name: str, auctions: pd.DataFrame, floors: np.ndarray | float) -> Replay:
    """`auctions` (every auction, with or without bids) replayed at `floors`."""
    reach = auctions["reach_cpm"].fillna(-np.inf).to_numpy(float)
    second = auctions["second_value_cpm"].fillna(0.0).to_numpy(float)
    paid = clearing(reach, second, auctions["shade"].to_numpy(float), floors)
    return Replay(name, len(auctions), int((reach >= floors).sum()), float(paid.sum()) / 1000)


def oracle(auctions: pd.DataFrame) -> Replay:
    """Every auction with a floor at its reach, the highest it fills at (its top bid when
    bidders do not react): the most any floor could take."""
    reach = auctions["reach_cpm"].dropna().to_numpy(float)
    return Replay("oracle: each auction at its reach", len(auctions), len(reach), reach.sum() / 1e3)
