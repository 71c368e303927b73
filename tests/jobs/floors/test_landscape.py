"""Reserve prices on hand-made bid landscapes whose best reserve is known."""

from __future__ import annotations

import numpy as np
import pytest

from jobs.floors.landscape import (
    Landscape,
    best_reserve,
    myerson_lognormal_reserve,
    quantile_reserve,
    revenue_curve,
)


def landscape(top, second, baseline, shade=None) -> Landscape:
    shade = np.ones(len(top)) if shade is None else np.array(shade, float)
    top, second, baseline = (np.array(x, float) for x in (top, second, baseline))
    return Landscape(top, second, baseline, shade)


def test_the_best_reserve_of_a_known_landscape():
    # Single-bidder auctions at 10, 6 and 3: reserve 3 earns 9, 6 earns 12, 10 earns 10.
    hand_made = landscape([10, 6, 3], [0, 0, 0], [1, 1, 1])
    reserves, revenue, fills = revenue_curve(hand_made)
    assert reserves.tolist() == [3, 6, 10]
    assert revenue.tolist() == [9, 12, 10] and fills.tolist() == [3, 2, 1]
    best = best_reserve(hand_made, max_fill_loss=1.0)
    assert (best.floor, best.revenue, best.fills) == (6, 12, 2)


def test_the_second_bid_sets_the_price_above_the_reserve():
    hand_made = landscape([10, 8], [9, 2], [0, 0])
    assert hand_made.revenue(5.0) == 9 + 5
    reserves, revenue, _ = revenue_curve(hand_made)
    assert dict(zip(reserves.tolist(), revenue.tolist(), strict=True)) == {8: 17, 10: 10}


def test_bidders_who_shade_pay_part_of_their_second_value_over_the_reserve():
    # Values 10 and 9 in one auction, 4 alone in another; bidders shade toward the reserve by
    # 0.2: at 5 the second bids 5 + 0.2 x (9 - 5).
    shaded = landscape([10, 4], [9, 0], [0, 0], shade=[0.2, 0.2])
    assert shaded.revenue(5.0) == pytest.approx(5.8)
    assert shaded.revenue(9.5) == 9.5  # the second value is under it: the reserve is paid
    reserves, revenue, _ = revenue_curve(shaded)
    assert reserves.tolist() == [4, 10] and revenue == pytest.approx([9, 10])
    # Against shading, the higher reserve pays; against the same values bid in full, the lower.
    assert best_reserve(shaded, max_fill_loss=1.0).floor == 10
    assert best_reserve(landscape([10, 4], [9, 0], [0, 0]), max_fill_loss=1.0).floor == 4


def test_the_fill_constraint_binds():
    # Unconstrained, 6 is best (fills 2 of 3); the baseline fills all 3, and a loss of at most
    # one third of a fill is allowed: only reserve 3 keeps 3 fills.
    hand_made = landscape([10, 6, 3], [0, 0, 0], [1, 1, 1])
    assert best_reserve(hand_made, max_fill_loss=0.3).floor == 3
    assert best_reserve(hand_made, max_fill_loss=0.34).floor == 6


def test_the_revenue_curve_agrees_with_replaying_each_reserve():
    rng = np.random.default_rng(5)
    bids = np.sort(rng.lognormal(2.0, 0.5, (3000, 2)), axis=1)[:, ::-1]
    bids[::4, 1] = 0.0  # some auctions with one bidder
    shade = rng.choice([0.5, 1.0], 3000)
    random_landscape = landscape(bids[:, 0], bids[:, 1], np.full(3000, 5.0), shade)
    reserves, revenue, fills = revenue_curve(random_landscape)
    for index in (0, 17, 900, len(reserves) - 1):
        assert revenue[index] == pytest.approx(random_landscape.revenue(reserves[index]))
        assert fills[index] == random_landscape.fills(reserves[index])


def test_baselines():
    rng = np.random.default_rng(9)
    values = rng.lognormal(np.log(10), 0.4, 20_000)
    single = landscape(values, np.zeros_like(values), np.zeros_like(values))
    # One bidder with lognormal values: Myerson's reserve maximises p * (1 - F(p)).
    myerson = myerson_lognormal_reserve(single)
    best = best_reserve(single, max_fill_loss=1.0)
    assert myerson.floor == pytest.approx(best.floor, rel=0.08)
    # The quantile baseline keeps fill within the allowed loss of the baseline (all fill).
    quantile = quantile_reserve(single, max_fill_loss=0.1)
    assert quantile.fills >= 0.9 * len(values) - 1 and quantile.fills <= 0.9 * len(values) + 1
