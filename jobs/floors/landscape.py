"""Reserve prices from a bid landscape: the logged top two bids (eCPM) of each auction.

In a second-price auction with a lazy reserve r, an auction whose top bid is b1 and second b2
earns max(b2, r) when b1 >= r and nothing otherwise. Bidders react to floors
(`jobs/floors/reaction.py`): each auction's `reach` is the highest reserve it fills at (its
top bid when bidders do not react, more for bidders who meet floors), and bidders who shade
toward the floor by s pay r + s x (v2 - r) for a second value v2 above r (s = 1: max(v2, r)).
Summed over a segment's auctions that is its empirical revenue curve; between two reaches it
only grows with r, so its maximum is at one of them. The floors brandlake publishes are that
maximum under a fill constraint (the segment may fill at most `max_fill_loss` less often than
under the floors it is compared with); the baselines are a fill-constrained quantile and the
Myerson reserve of a lognormal fitted to the bids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Landscape:
    """A segment's auctions with at least one bid: the highest reserve each fills at, the
    second value (eCPM; 0: no second bid), the floor each had under the comparison floors (the
    static ones), and how its bidders shade toward a floor (1: not at all)."""

    reach: np.ndarray
    second: np.ndarray
    baseline_floor: np.ndarray
    shade: np.ndarray

    def __len__(self) -> int:
        return len(self.reach)

    def revenue(self, reserve: float | np.ndarray) -> float:
        """Revenue (sum of clearing CPMs) at one reserve for all, or a reserve per auction."""
        return float(np.sum(clearing(self.reach, self.second, self.shade, reserve)))

    def fills(self, reserve: float | np.ndarray) -> int:
        return int(np.sum(self.reach >= reserve))

    def baseline_fill(self) -> int:
        return self.fills(self.baseline_floor)

    def take(self, mask: np.ndarray) -> Landscape:
        return Landscape(
            self.reach[mask], self.second[mask], self.baseline_floor[mask], self.shade[mask]
        )


def clearing(
    reach: np.ndarray, second: np.ndarray, shade: np.ndarray, reserve: float | np.ndarray
) -> np.ndarray:
    """Each auction's clearing price at `reserve` (0: not filled)."""
    paid = reserve + shade * np.maximum(second - reserve, 0.0)
    return np.where(reach >= reserve, paid, 0.0)


@dataclass(frozen=True)
class Reserve:
    floor: float
    revenue: float  # on the landscape it was chosen on
    fills: int


def revenue_curve(landscape: Landscape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(reserves, revenue, fills) at every distinct reach, in O(n log n): at reserve r each
    auction reaching r pays r, and those whose second value v2 is above r also s x (v2 - r)
    (a second value never exceeds its auction's reach)."""
    reserves = np.unique(landscape.reach)
    reach = np.sort(landscape.reach)
    by_second = np.argsort(landscape.second, kind="stable")
    second = landscape.second[by_second]
    shade = landscape.shade[by_second]
    fills = len(reach) - np.searchsorted(reach, reserves, side="left")
    first_paying = np.searchsorted(second, reserves, side="left")

    def tail_sums(values: np.ndarray) -> np.ndarray:
        return np.concatenate([np.cumsum(values[::-1])[::-1], [0.0]])

    shaded_second, shades = tail_sums(shade * second), tail_sums(shade)
    revenue = reserves * fills + shaded_second[first_paying] - reserves * shades[first_paying]
    return reserves, revenue, fills


def _min_fills(landscape: Landscape, max_fill_loss: float) -> int:
    """The fewest fills a reserve may leave: the baseline's minus the allowed loss."""
    return math.ceil(landscape.baseline_fill() - max_fill_loss * len(landscape) - 1e-9)


def best_reserve(landscape: Landscape, max_fill_loss: float) -> Reserve:
    """The revenue-maximising reserve among the segment's reaches that keeps fill within
    `max_fill_loss` (a share of the segment's auctions) of the baseline's."""
    if len(landscape) == 0:
        return Reserve(0.0, 0.0, 0)
    reserves, revenues, fills = revenue_curve(landscape)
    allowed = fills >= _min_fills(landscape, max_fill_loss)
    if not allowed.any():  # the baseline fills more than any candidate: the lowest keeps most
        allowed[0] = True
    best = int(np.argmax(np.where(allowed, revenues, -np.inf)))
    return Reserve(float(reserves[best]), float(revenues[best]), int(fills[best]))


def quantile_reserve(landscape: Landscape, max_fill_loss: float) -> Reserve:
    """The baseline a simple floor tool sets: the highest quantile of the reaches that keeps
    fill within `max_fill_loss` of the baseline's."""
    if len(landscape) == 0:
        return Reserve(0.0, 0.0, 0)
    keep = max(_min_fills(landscape, max_fill_loss), 1)
    ordered = np.sort(landscape.reach)[::-1]
    floor = float(ordered[min(keep, len(ordered)) - 1])
    return Reserve(floor, landscape.revenue(floor), landscape.fills(floor))


def myerson_lognormal_reserve(landscape: Landscape) -> Reserve:
    """The optimal reserve for bidders whose values are lognormal, fitted to the top two
    values of every auction:
    the r where the virtual value r - (1 - F(r)) / f(r) is zero (it does not depend on the
    number of bidders)."""
    values = np.concatenate([landscape.reach, landscape.second[landscape.second > 0]])
    values = values[values > 0]
    if len(values) < 2:
        return Reserve(0.0, landscape.revenue(0.0), landscape.fills(0.0))
    logs = np.log(values)
    mu, sigma = float(logs.mean()), max(float(logs.std()), 1e-3)
    grid = np.exp(np.linspace(mu - 4 * sigma, mu + 4 * sigma, 4001))
    z = (np.log(grid) - mu) / sigma
    survival = 0.5 * np.array([math.erfc(v / math.sqrt(2)) for v in z])
    density = np.exp(-0.5 * z**2) / (grid * sigma * math.sqrt(2 * math.pi))
    virtual = grid - survival / np.maximum(density, 1e-300)
    floor = float(grid[int(np.argmin(np.abs(virtual)))])
    return Reserve(floor, landscape.revenue(floor), landscape.fills(floor))
