"""A floor rule set learnt from logged auctions: a tree of segments over the rule dimensions,
each with its revenue-maximising reserve (`jobs/floors/landscape.py`).

It starts from one segment, every dimension `*`. Splitting a segment on a dimension gives each
value with at least `min_auctions` auctions its own segment; the rest stay in the parent, which
keeps its rule for them (and for values never seen). A segment is split once, so siblings never
overlap and a deeper segment is always the more specific rule. The split that raises revenue
the most goes first, while it raises it by more than `min_gain` of the segment's and the rule
count stays within `max_rules`. Revenue is cross-fitted, so that a split must pay on auctions
its floors were not chosen on: each half of a segment's auctions is scored at the reserve
chosen on the other half (an in-sample optimum always gains from a split, even on noise).
"""

from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jobs.auction.floor_rules import ANY, FloorRule
from jobs.floors.landscape import Landscape, Reserve, best_reserve


@dataclass
class Segment:
    match: tuple[str, ...]
    rows: np.ndarray  # positions in the auctions frame that fall to this segment
    reserve: Reserve


def landscape_of(auctions: pd.DataFrame, rows: np.ndarray | None = None) -> Landscape:
    """The bid landscape of `auctions` (columns reach_cpm, second_value_cpm, static_floor_cpm,
    shade; from `prepare`), or of its `rows` (positions)."""
    whole = Landscape(
        auctions["reach_cpm"].to_numpy(float),
        auctions["second_value_cpm"].fillna(0.0).to_numpy(float),
        auctions["static_floor_cpm"].to_numpy(float),
        auctions["shade"].to_numpy(float),
    )
    return whole if rows is None else whole.take(rows)


def rule_id(match: tuple[str, ...]) -> str:
    return "r-" + hashlib.sha256("|".join(match).encode()).hexdigest()[:10]


def learn_segments(
    auctions: pd.DataFrame,
    dimensions: list[str],
    max_rules: int,
    min_auctions: int,
    max_fill_loss: float,
    min_gain: float,
) -> list[Segment]:
    """Every segment of the tree (see the module docstring), root first. `auctions` holds
    auctions with at least one bid, a column per dimension and the landscape's columns."""
    values = [auctions[d].astype(str).to_numpy() for d in dimensions]
    whole = landscape_of(auctions)

    def make(match: tuple[str, ...], rows: np.ndarray) -> Segment:
        return Segment(match, rows, best_reserve(whole.take(rows), max_fill_loss))

    def honest_revenue(rows: np.ndarray) -> float:
        halves = rows[::2], rows[1::2]
        total = 0.0
        for chosen_on, scored_on in (halves, halves[::-1]):
            if len(chosen_on) and len(scored_on):
                floor = best_reserve(whole.take(chosen_on), max_fill_loss).floor
                total += whole.take(scored_on).revenue(floor)
        return total

    def best_split(segment: Segment) -> tuple[float, int, dict[str, np.ndarray]] | None:
        best = None
        before = honest_revenue(segment.rows)
        for d, column in enumerate(values):
            if segment.match[d] != ANY:
                continue
            kept = {value: segment.rows[positions]
                    for value, positions in _groups(column[segment.rows]).items()
                    if len(positions) >= min_auctions}  # fmt: skip
            if not kept or (len(kept) == 1 and sum(map(len, kept.values())) == len(segment.rows)):
                continue  # nothing to split off, or one value that is the whole segment
            rest = np.setdiff1d(segment.rows, np.concatenate(list(kept.values())))
            after = honest_revenue(rest) + sum(honest_revenue(r) for r in kept.values())
            gain = after - before
            if gain > min_gain * abs(before) and (best is None or gain > best[0]):
                best = (gain, d, kept)
        return best

    root = make(tuple(ANY for _ in dimensions), np.arange(len(auctions)))
    segments = [root]
    queue: list = []
    order = 0  # ties in the heap break by insertion, never by comparing segments

    def offer(segment: Segment) -> None:
        nonlocal order
        split = best_split(segment)
        if split is not None:
            heapq.heappush(queue, (-split[0], order, segment, split))
            order += 1

    offer(root)
    while queue and len(segments) < max_rules:
        _, _, segment, (_, d, kept) = heapq.heappop(queue)
        if len(segments) + len(kept) > max_rules:
            continue  # too many children for what is left; a smaller split may still fit
        for value, rows in kept.items():
            match = tuple(value if i == d else m for i, m in enumerate(segment.match))
            child = make(match, rows)
            segments.append(child)
            offer(child)
        segment.rows = np.setdiff1d(segment.rows, np.concatenate(list(kept.values())))
        if len(segment.rows):  # else it keeps the floor it had, for values never seen
            segment.reserve = make(segment.match, segment.rows).reserve
    return segments


def _groups(values: np.ndarray) -> dict[str, np.ndarray]:
    """Positions of each distinct value."""
    order = np.argsort(values, kind="stable")
    distinct, starts = np.unique(values[order], return_index=True)
    return dict(zip(distinct, np.split(order, starts[1:]), strict=True))


def rules_of(segments: list[Segment]) -> tuple[FloorRule, ...]:
    return tuple(FloorRule(rule_id(s.match), s.match, round(s.reserve.floor, 4)) for s in segments)
