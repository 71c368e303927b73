"""Floor rules: the published floors the ad server applies, and how they travel.

A rule matches auctions on the dimensions of `yield_optimization.dimensions` (a value or `*` for
any) and sets their floor; the most specific matching rule wins (fewest `*`; then the lower
floor, so ties never depend on order). `own_brand_on_screen` is the winner's: a lazy reserve is
applied once the winner is known. Auctions no rule matches, and the holdout arm, keep the static
campaign floors.

The rules travel as JSON: in Redis under `FLOORS_KEY` (one SET, so readers see the old set or
the new one, never a mix), in `gold.floor_rules`, and as a Prebid-style floors file.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from datetime import datetime

from jobs.auction.market import HOLDOUT, Floor, Opportunity, safety_band
from jobs.common.config import Campaign

FLOORS_KEY = "brandlake:floors"
ANY = "*"
STATIC_RULE = "static"  # the rule id of a campaign's own floor


@dataclass(frozen=True)
class FloorRule:
    rule_id: str
    match: tuple[str, ...]  # one value per dimension, or ANY
    floor_cpm: float

    @property
    def specificity(self) -> int:
        return sum(value != ANY for value in self.match)

    def matches(self, key: tuple[str, ...]) -> bool:
        return all(want in (ANY, have) for want, have in zip(self.match, key, strict=True))


@dataclass(frozen=True)
class FloorRules:
    """A published rule set (see the module docstring)."""

    version: str
    method: str
    dimensions: tuple[str, ...]
    rules: tuple[FloorRule, ...]
    valid_from: datetime
    holdout_share: float
    currency: str = "USD"

    def find(self, key: tuple[str, ...]) -> FloorRule | None:
        """The most specific rule matching `key` (values in `dimensions` order), if any."""
        found = [rule for rule in self.rules if rule.matches(key)]
        return max(found, key=lambda r: (r.specificity, -r.floor_cpm), default=None)

    def to_json(self) -> str:
        body = asdict(self)
        body["valid_from"] = self.valid_from.isoformat()
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> FloorRules:
        body = json.loads(text)
        return cls(
            version=body["version"],
            method=body["method"],
            dimensions=tuple(body["dimensions"]),
            rules=tuple(
                FloorRule(r["rule_id"], tuple(r["match"]), float(r["floor_cpm"]))
                for r in body["rules"]
            ),
            valid_from=datetime.fromisoformat(body["valid_from"]),
            holdout_share=float(body["holdout_share"]),
            currency=body.get("currency", "USD"),
        )

    def prebid(self) -> dict:
        """The rules as a Prebid floors-module data object: `schema.fields`, `values` keyed by
        the fields joined with `|`, `modelVersion`, and `skipRate` (percent of auctions that
        skip floors: the holdout)."""
        return {
            "currency": self.currency,
            "modelVersion": f"{self.method} {self.version}",
            "skipRate": round(self.holdout_share * 100),
            "schema": {"fields": list(self.dimensions), "delimiter": "|"},
            "values": {"|".join(rule.match): rule.floor_cpm for rule in self.rules},
        }


def auction_key(
    dimensions: tuple[str, ...], opportunity: Opportunity, winner: Campaign, bands: list[float]
) -> tuple[str, ...]:
    """The auction's value on each rule dimension, with `winner` as the campaign to serve."""
    values = {
        "campaign_id": winner.campaign_id,
        "stream_id": opportunity.stream_id,
        "slot_type": opportunity.slot_type,
        "device": opportunity.device,
        "geo": opportunity.geo,
        "own_brand_on_screen": "yes" if opportunity.own_brand_on_screen(winner) else "no",
        "safety_band": safety_band(opportunity.screen.safety, bands),
    }
    return tuple(values[d] for d in dimensions)


class RedisFloors:
    """The rule set published in Redis, reread at most once per `refresh_s` (None: none
    published yet, so every auction keeps the static floors)."""

    def __init__(self, redis_url: str, refresh_s: float) -> None:
        from jobs.common.live_state import redis_client

        self.client = redis_client(redis_url)
        self.refresh_s = refresh_s
        self.read_at = -math.inf
        self.rules: FloorRules | None = None

    def __call__(self) -> FloorRules | None:
        now = time.monotonic()
        if now - self.read_at >= self.refresh_s:
            text = self.client.get(FLOORS_KEY)
            self.rules = FloorRules.from_json(text) if text else None
            self.read_at = now
        return self.rules


class FloorPolicy:
    """The floor the ad server applies: the published rule for the treatment arm, the static
    campaign floor for the holdout and for auctions no rule covers."""

    def __init__(self, rules: FloorRules | None, bands: list[float]) -> None:
        self.rules = rules
        self.bands = bands

    def floor_of(self, arm: str, opportunity: Opportunity):
        """A function from the would-be winner to its floor."""

        def floor(campaign: Campaign) -> Floor:
            if self.rules is not None and arm != HOLDOUT:
                key = auction_key(self.rules.dimensions, opportunity, campaign, self.bands)
                rule = self.rules.find(key)
                if rule is not None:
                    return Floor(rule.floor_cpm, rule.rule_id, self.rules.version)
            return Floor(campaign.floor_cpm, STATIC_RULE)

        return floor
