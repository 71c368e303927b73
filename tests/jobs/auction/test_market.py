"""The ad market: second price with a lazy reserve, a stable holdout, bidders' effects and
reactions to floors, and the true click probability."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime

import pytest

from jobs.auction.market import (
    HOLDOUT,
    Bid,
    Floor,
    Market,
    Opportunity,
    Screen,
    arm_of,
    safety_band,
    second_price,
    true_ctr,
)
from jobs.common.config import load_settings

SETTINGS = load_settings()
CAMPAIGNS = {c.campaign_id: c for c in SETTINGS.catalog.campaigns}
FIZZ, VELOCITY = CAMPAIGNS["cmp-fizz-summer"], CAMPAIGNS["cmp-velocity-launch"]


def bid(campaign, ecpm: float) -> Bid:
    return Bid(campaign, ecpm, ecpm)


def floor_at(cpm: float):
    return lambda campaign: Floor(cpm, "rule-1")


def opportunity(**changes) -> Opportunity:
    values = dict(auction_id="a-1", time=datetime(2026, 11, 22, 20, 0, tzinfo=UTC),
                  stream_id="arena-live", viewer_id="v-1", slot_type="midroll", device="mobile",
                  geo="DE", screen=Screen(("fizzco",), "sports", 0.9))  # fmt: skip
    return Opportunity(**{**values, **changes})


def test_the_winner_pays_the_second_bid_or_the_floor_whichever_is_higher():
    assert second_price([bid(FIZZ, 10.0), bid(VELOCITY, 7.0)], floor_at(5.0)).clearing_cpm == 7.0
    assert second_price([bid(FIZZ, 10.0), bid(VELOCITY, 7.0)], floor_at(8.0)).clearing_cpm == 8.0
    alone = second_price([bid(FIZZ, 10.0)], floor_at(4.0))
    assert (alone.filled, alone.clearing_cpm, alone.second_ecpm) == (True, 4.0, 0.0)


def test_no_fill_when_the_top_bid_is_under_the_floor_and_none_without_bids():
    under = second_price([bid(FIZZ, 5.0), bid(VELOCITY, 4.0)], floor_at(6.0))
    assert (under.filled, under.clearing_cpm, under.winner) == (False, None, None)
    assert under.top_ecpm == 5.0 and under.second_ecpm == 4.0  # logged all the same
    empty = second_price([], floor_at(1.0))
    assert (empty.filled, empty.floor, empty.bids) == (False, None, ())


def test_the_floor_is_the_winners_a_lazy_reserve():
    floors = {FIZZ.campaign_id: 12.0, VELOCITY.campaign_id: 3.0}
    outcome = second_price(
        [bid(FIZZ, 10.0), bid(VELOCITY, 9.0)],
        lambda c: Floor(floors[c.campaign_id], "static"),
    )
    # FizzCo wins on bid; its own floor (12) applies, not the loser's: no fill.
    assert not outcome.filled and outcome.floor.cpm == 12.0


def test_the_holdout_is_a_stable_share_of_auction_ids():
    ids = [f"auction-{i}" for i in range(20_000)]
    arms = [arm_of(i, 0.1) for i in ids]
    assert arms == [arm_of(i, 0.1) for i in ids]
    assert 0.09 < arms.count(HOLDOUT) / len(ids) < 0.11
    assert HOLDOUT not in {arm_of(i, 0.0) for i in ids[:1000]}


def test_safety_bands():
    assert [safety_band(s, [0.5, 0.8]) for s in (0.1, 0.5, 0.79, 0.8, None)] == [
        "low", "mid", "mid", "high", "unknown"]  # fmt: skip


def median_value(market: Market, opp: Opportunity, campaign) -> float:
    return statistics.median(market.value(opp, campaign) for _ in range(4000))


def test_bidders_value_their_brand_on_screen_more_and_unsafe_frames_less():
    market = Market(SETTINGS.catalog.campaigns, SETTINGS.simulate.market, 0.5, random.Random(1))
    conf = SETTINGS.simulate.market
    base = market.median_value(opportunity(screen=Screen((), "news", 0.9)), FIZZ)
    own = market.median_value(opportunity(screen=Screen(("fizzco",), "news", 0.9)), FIZZ)
    unsafe = market.median_value(opportunity(screen=Screen((), "news", 0.2)), FIZZ)
    assert own / base == pytest.approx(2.718281828**conf.own_brand_on_screen)
    assert unsafe / base == pytest.approx(2.718281828**conf.low_safety)
    # And the noisy draws are centred on it.
    drawn = median_value(market, opportunity(screen=Screen((), "news", 0.9)), FIZZ)
    assert drawn == pytest.approx(base, rel=0.05)


@pytest.mark.parametrize(
    ("behaviour", "value", "floor", "expected"),
    [("neutral", 10.0, 8.0, 10.0), ("neutral", 7.0, 8.0, 7.0),
     ("shading", 10.0, 8.0, 9.0), ("shading", 7.0, 8.0, 7.0),
     ("raising", 7.0, 8.0, 8.0), ("raising", 5.0, 8.0, 5.0), ("raising", 10.0, 8.0, 10.0)],
)  # fmt: skip
def test_bidders_react_to_the_floor_they_see(behaviour, value, floor, expected):
    conf = SETTINGS.simulate.market.model_copy(
        update={"bidder_behaviour": behaviour, "shading": 0.5, "raise_reach": 0.25}
    )
    market = Market([], conf, 0.5, random.Random(0))
    assert market.react(value, floor) == pytest.approx(expected)


def test_cpc_bids_are_ranked_at_cpc_times_predicted_ctr():
    aqua = CAMPAIGNS["cmp-aqua-daily"]
    only_aqua = aqua.model_copy(update={"participation": 1.0})
    market = Market([only_aqua], SETTINGS.simulate.market, 0.5, random.Random(3))
    [placed] = market.bids(opportunity(), floor_at(1.0), lambda o, c: 0.02)
    assert placed.ecpm == pytest.approx(placed.amount * 0.02 * 1000, rel=1e-3)
    assert placed.predicted_ctr == 0.02


def test_the_true_click_probability_has_the_planted_effects():
    clicks = SETTINGS.simulate.clicks
    plain = true_ctr(clicks, opportunity(screen=Screen((), "news", 0.9)), FIZZ)
    assert plain == pytest.approx(clicks.base_ctr * 2.718281828 ** clicks.device["mobile"],
                                  rel=0.02)  # fmt: skip
    own = true_ctr(clicks, opportunity(screen=Screen(("fizzco",), "news", 0.9)), FIZZ)
    overlay = true_ctr(
        clicks, opportunity(slot_type="overlay", screen=Screen(("fizzco",), "news", 0.9)), FIZZ
    )
    assert (
        own > plain
        and overlay
        > true_ctr(clicks, opportunity(slot_type="overlay", screen=Screen((), "news", 0.9)), FIZZ)
        * 2
    )
