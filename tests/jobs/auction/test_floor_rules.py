"""Floor rules: the most specific match wins, the holdout keeps static floors, and a rule set
survives its trips through Redis and the Prebid floors format."""

from __future__ import annotations

from datetime import UTC, datetime

from jobs.auction.floor_rules import FloorPolicy, FloorRule, FloorRules, auction_key
from jobs.auction.market import HOLDOUT, TREATMENT, Opportunity, Screen
from jobs.common.config import load_settings

SETTINGS = load_settings()
FIZZ = next(c for c in SETTINGS.catalog.campaigns if c.campaign_id == "cmp-fizz-summer")
DIMENSIONS = ("stream_id", "slot_type", "own_brand_on_screen")
RULES = FloorRules(
    version="v7",
    method="empirical-revenue-curve",
    dimensions=DIMENSIONS,
    rules=(
        FloorRule("r-any", ("*", "*", "*"), 3.0),
        FloorRule("r-arena", ("arena-live", "*", "*"), 5.0),
        FloorRule("r-preroll", ("*", "preroll", "*"), 4.0),
        FloorRule("r-arena-own", ("arena-live", "*", "yes"), 9.0),
    ),
    valid_from=datetime(2026, 11, 22, tzinfo=UTC),
    holdout_share=0.1,
)


def opportunity(stream: str, slot: str, brands: tuple[str, ...] = ()) -> Opportunity:
    return Opportunity("a-1", datetime(2026, 11, 22, 12, tzinfo=UTC), stream, "v-1", slot,
                       "tv", "US", Screen(brands, "sports", 0.9))  # fmt: skip


def test_the_most_specific_rule_wins_and_ties_take_the_lower_floor():
    assert RULES.find(("city-news", "midroll", "no")).rule_id == "r-any"
    assert RULES.find(("arena-live", "midroll", "no")).rule_id == "r-arena"
    assert RULES.find(("arena-live", "midroll", "yes")).rule_id == "r-arena-own"
    # arena and preroll both match with one value each: the lower floor (4) wins.
    assert RULES.find(("arena-live", "preroll", "no")).rule_id == "r-preroll"
    assert FloorRules(**{**RULES.__dict__, "rules": RULES.rules[1:2]}).find(
        ("city-news", "midroll", "no")) is None  # fmt: skip


def test_own_brand_on_screen_is_the_winners():
    seen = opportunity("arena-live", "midroll", ("fizzco",))
    assert auction_key(DIMENSIONS, seen, FIZZ, [0.5]) == ("arena-live", "midroll", "yes")
    velocity = next(c for c in SETTINGS.catalog.campaigns if c.brand_id == "velocity")
    assert auction_key(DIMENSIONS, seen, velocity, [0.5])[2] == "no"


def test_treatment_gets_the_rule_the_holdout_and_unmatched_keep_the_static_floor():
    policy = FloorPolicy(RULES, [0.5, 0.8])
    seen = opportunity("arena-live", "midroll", ("fizzco",))
    treated = policy.floor_of(TREATMENT, seen)(FIZZ)
    assert (treated.cpm, treated.rule_id, treated.version) == (9.0, "r-arena-own", "v7")
    held = policy.floor_of(HOLDOUT, seen)(FIZZ)
    assert (held.cpm, held.rule_id) == (FIZZ.floor_cpm, "static")
    none = FloorPolicy(None, [0.5]).floor_of(TREATMENT, seen)(FIZZ)
    assert (none.cpm, none.rule_id) == (FIZZ.floor_cpm, "static")


def test_a_rule_set_round_trips_through_json():
    assert FloorRules.from_json(RULES.to_json()) == RULES


def test_the_prebid_floors_file_has_schema_values_and_the_holdout_as_skip_rate():
    prebid = RULES.prebid()
    assert prebid["schema"] == {"fields": list(DIMENSIONS), "delimiter": "|"}
    assert prebid["values"]["arena-live|*|yes"] == 9.0 and len(prebid["values"]) == 4
    assert prebid["skipRate"] == 10 and prebid["currency"] == "USD"
    assert prebid["modelVersion"] == "empirical-revenue-curve v7"
