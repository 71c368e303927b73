"""The ad market the simulator runs as its ad server: one second-price auction per ad
opportunity among the catalog's campaigns, with the floor as a lazy reserve.

Each campaign's bidder values an opportunity at its `median_bid` times context effects
(`simulate.market`: more while its own brand is on screen, less on unsafe frames, more on sports
at prime time, per device, geo and slot), with lognormal noise. CPM bidders bid a CPM; CPC
bidders bid a CPC, which the ad server ranks at CPC x predicted CTR x 1000 (the eCPM), so the CTR
model decides who wins. Bidders see the floor and react per `bidder_behaviour`. Clicks come from
a true click probability (`simulate.clicks`) no model sees.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from jobs.common.config import Campaign, ClickConf, MarketConf

HOLDOUT = "holdout"
TREATMENT = "treatment"


@dataclass(frozen=True)
class Screen:
    """What a stream shows when an ad is auctioned (None: not known)."""

    brands: tuple[str, ...] = ()
    scene: str | None = None
    safety: float | None = None


@dataclass(frozen=True)
class Opportunity:
    """An ad slot to fill: who watches what, where, and what is on screen."""

    auction_id: str
    time: datetime
    stream_id: str
    viewer_id: str
    slot_type: str
    device: str
    geo: str
    screen: Screen

    @property
    def hour(self) -> int:
        return self.time.hour

    def own_brand_on_screen(self, campaign: Campaign) -> bool:
        return campaign.brand_id in self.screen.brands


@dataclass(frozen=True)
class Bid:
    campaign: Campaign
    amount: float  # CPM, or the CPC of a cpc campaign
    ecpm: float  # what the ad server ranks by
    predicted_ctr: float | None = None  # the CTR model's, for cpc bids


@dataclass(frozen=True)
class Floor:
    cpm: float
    rule_id: str  # "static" for a campaign's own floor
    version: str = ""  # the published rule set's version


@dataclass(frozen=True)
class Outcome:
    """The auction as an exchange logs it: the top two bids, the floor applied to the winner."""

    bids: tuple[Bid, ...]  # highest eCPM first
    floor: Floor | None  # None without bids
    filled: bool
    clearing_cpm: float | None

    @property
    def winner(self) -> Bid | None:
        return self.bids[0] if self.filled else None

    @property
    def top_ecpm(self) -> float:
        return self.bids[0].ecpm if self.bids else 0.0

    @property
    def second_ecpm(self) -> float:
        return self.bids[1].ecpm if len(self.bids) > 1 else 0.0


class CtrPredictor(Protocol):
    """What the ad server ranks cpc bids with: `ctr-model@champion`, or a constant before one
    exists."""

    version: str | None

    def predict(self, opportunity: Opportunity, campaign: Campaign) -> float: ...


@dataclass(frozen=True)
class ConstantCtr:
    ctr: float
    version: str | None = None

    def predict(self, opportunity: Opportunity, campaign: Campaign) -> float:
        return self.ctr


def second_price(bids: list[Bid], floor_of: Callable[[Campaign], Floor]) -> Outcome:
    """The highest eCPM wins and pays the second's, but never under its floor (a lazy reserve:
    the floor is the winner's); no fill when the highest bid is under it."""
    ranked = tuple(sorted(bids, key=lambda b: (-b.ecpm, b.campaign.campaign_id)))
    if not ranked:
        return Outcome(ranked, None, False, None)
    floor = floor_of(ranked[0].campaign)
    if ranked[0].ecpm < floor.cpm:
        return Outcome(ranked, floor, False, None)
    second = ranked[1].ecpm if len(ranked) > 1 else 0.0
    return Outcome(ranked, floor, True, round(max(second, floor.cpm), 4))


def arm_of(auction_id: str, holdout_share: float) -> str:
    """`holdout` for a stable `holdout_share` of auction ids, else `treatment`."""
    digest = hashlib.sha256(auction_id.encode()).digest()
    return HOLDOUT if int.from_bytes(digest[:8], "big") / 2**64 < holdout_share else TREATMENT


def safety_band(score: float | None, bands: list[float]) -> str:
    """`low`, `mid`, `high` (one more name per extra bound: `band3`, ...) or `unknown`."""
    if score is None:
        return "unknown"
    names = ["low", "mid", "high"] + [f"band{i}" for i in range(3, len(bands) + 1)]
    return names[sum(score >= bound for bound in bands)]


class Market:
    """The catalog's campaigns as bidders (see the module docstring)."""

    def __init__(
        self,
        campaigns: list[Campaign],
        conf: MarketConf,
        low_safety_below: float,
        rng: random.Random,
    ) -> None:
        self.campaigns = campaigns
        self.conf = conf
        self.low_safety_below = low_safety_below
        self.random = rng

    def value(self, opportunity: Opportunity, campaign: Campaign) -> float:
        """What the campaign's bidder would pay (CPM, or CPC), noise included."""
        return self.median_value(opportunity, campaign) * math.exp(
            self.random.gauss(0.0, self.conf.value_sigma)
        )

    def median_value(self, opportunity: Opportunity, campaign: Campaign) -> float:
        conf = self.conf
        screen = opportunity.screen
        effect = conf.device.get(opportunity.device, 0.0) + conf.geo.get(opportunity.geo, 0.0)
        effect += conf.slot_type.get(opportunity.slot_type, 0.0)
        if opportunity.own_brand_on_screen(campaign):
            effect += conf.own_brand_on_screen
        if screen.safety is not None and screen.safety < self.low_safety_below:
            effect += conf.low_safety
        if screen.scene == "sports" and opportunity.hour in conf.prime_hours:
            effect += conf.prime_time_sports
        return campaign.median_bid * math.exp(effect)

    def bids(
        self,
        opportunity: Opportunity,
        floor_of: Callable[[Campaign], Floor],
        predicted_ctr: Callable[[Opportunity, Campaign], float],
    ) -> list[Bid]:
        """The bids of the campaigns taking part, after their reaction to the floor they see."""
        bids = []
        for campaign in self.campaigns:
            if self.random.random() >= campaign.participation:
                continue
            value = self.value(opportunity, campaign)
            if campaign.bid_type == "cpc":
                ctr = predicted_ctr(opportunity, campaign)
                bids.append(Bid(campaign, round(value, 4), round(value * ctr * 1000, 4), ctr))
                continue
            bid = self.react(value, floor_of(campaign).cpm)
            bids.append(Bid(campaign, round(bid, 4), round(bid, 4)))
        return bids

    def react(self, value: float, floor: float) -> float:
        """A CPM bidder's bid for `value` when it sees `floor` (CPC bidders do not see eCPM
        floors)."""
        behaviour = self.conf.bidder_behaviour
        if behaviour == "shading" and value > floor:
            return floor + self.conf.shading * (value - floor)
        if behaviour == "raising" and floor / (1 + self.conf.raise_reach) <= value < floor:
            return floor
        return value


def true_ctr(conf: ClickConf, opportunity: Opportunity, campaign: Campaign) -> float:
    """The probability that the viewer clicks the campaign's ad here (the simulator's truth)."""
    logit = math.log(conf.base_ctr / (1 - conf.base_ctr))
    logit += conf.slot_type.get(opportunity.slot_type, 0.0)
    logit += conf.device.get(opportunity.device, 0.0)
    if opportunity.own_brand_on_screen(campaign):
        logit += conf.own_brand_on_screen
        if opportunity.slot_type == "overlay":
            logit += conf.own_brand_overlay
    if opportunity.screen.scene == "sports":
        logit += conf.sports
    return 1 / (1 + math.exp(-logit))
