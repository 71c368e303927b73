"""yield_optimization end to end: simulated auctions through Kafka and bronze_ingest, floors
learnt with Spark over bronze.auctions, published to Redis and a Prebid file, and applied by
the ad server to the treatment arm only; the data-quality gate blocks bad input."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import redis

from jobs import bronze_ingest
from jobs.auction.floor_rules import FLOORS_KEY, FloorRules
from jobs.auction.market import HOLDOUT, TREATMENT
from jobs.common.lake import ALL_TABLES, append_rows
from jobs.common.live_state import redis_url
from jobs.floors.experiment import uplift
from jobs.quality.run import DataQualityError, run_quality
from jobs.simulate import TOPICS, simulator
from jobs.yield_optimization import PREBID_FILE, run_yield
from tests.support import produce, read_table

pytestmark = [pytest.mark.spark, pytest.mark.services]
NOW = datetime.now(UTC).replace(microsecond=0)
RECORDS = 40_000  # about 14,000 auctions over the last 100 minutes


@pytest.fixture(scope="module")
def lake(stack, spark, tmp_path_factory):
    """Two hours of simulated traffic with static floors, in bronze."""
    from tests.support import isolated

    settings = isolated(
        stack, tmp_path_factory.mktemp("yield"),
        yield_optimization__min_auctions_per_rule=150, yield_optimization__lookback_hours=2,
        yield_optimization__bootstrap_samples=200,
    )  # fmt: skip
    redis.Redis.from_url(redis_url(settings)).delete(FLOORS_KEY)
    start = NOW - timedelta(minutes=100)
    records = list(itertools.islice(
        simulator(settings, start=start, rate_per_s=RECORDS / 6000, bad_ratio=0.01, seed=41),
        RECORDS))  # fmt: skip
    for key in TOPICS:
        produce(settings, key, (r.value for r in records if r.topic == key))
    bronze_ingest.run(settings, available_now=True)
    yield settings, records
    redis.Redis.from_url(redis_url(settings)).delete(FLOORS_KEY)


def auctions_frame(settings) -> pd.DataFrame:
    frame = read_table(settings, "bronze.auctions").to_pandas()
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True)
    return frame


def test_bad_auctions_are_quarantined_with_the_reason(lake):
    settings, records = lake
    quarantine = read_table(settings, "bronze.quarantine").to_pylist()
    auctions_topic = settings.kafka.topics["auctions"].name
    reasons = [r["reason"] for r in quarantine if r["kafka_topic"] == auctions_topic]
    bad = [r for r in records if r.bad_kind and r.topic == "auctions"]
    assert len(reasons) == len(bad)
    kinds = {r.bad_kind for r in bad}
    assert {"filled_under_floor", "negative_price"} <= kinds
    assert any("filled: the top bid is under the floor" in r for r in reasons)
    assert any("top_bid_cpm: below 0" in r for r in reasons)


def test_a_a_splits_show_no_difference_beyond_noise(lake):
    """Static floors in both arms, the auctions split at random as the ad server splits them:
    the 95 % interval covers no difference in about 95 % of splits. (Asserting it of the one
    split the simulator made failed one run in twenty, as a 95 % interval should.)"""
    settings, _ = lake
    auctions = auctions_frame(settings)
    share = settings.yield_optimization.holdout_share
    rng = np.random.default_rng(7)
    covered = []
    for _ in range(100):
        held = rng.random(len(auctions)) < share
        split = auctions.assign(arm=np.where(held, HOLDOUT, TREATMENT))
        found = uplift(split, samples=400, seed=int(rng.integers(2**31)))
        covered.append(found.low < 0 < found.high)
    assert sum(covered) >= 85, f"{sum(covered)} of 100 intervals cover 0"


def test_floors_are_learnt_published_and_applied_to_the_treatment_arm_only(lake):
    settings, _ = lake
    summary = run_yield(settings, now=NOW)
    assert summary["publish"], summary["reason"]
    replay = summary["replay"]
    assert replay["learnt"]["revenue_per_1000"] > replay["static"]["revenue_per_1000"]
    assert replay["learnt"]["fill_rate"] >= replay["static"]["fill_rate"] - 0.02
    assert replay["oracle"]["revenue_per_1000"] >= replay["hindsight"]["revenue_per_1000"]

    published = FloorRules.from_json(redis.Redis.from_url(redis_url(settings)).get(FLOORS_KEY))
    assert published.version == summary["version"] and len(published.rules) == summary["rules"]
    assert 1 < len(published.rules) <= settings.yield_optimization.max_rules
    prebid = json.loads(Path(settings.lake.root, PREBID_FILE).read_text())
    assert prebid["skipRate"] == 10 and len(prebid["values"]) == len(published.rules)
    rules = read_table(settings, "gold.floor_rules").to_pylist()
    assert {r["version"] for r in rules} == {published.version} and all(
        r["published"] for r in rules
    )
    methods = {r["method"] for r in read_table(settings, "gold.floor_replay").to_pylist()}
    assert {"static", "learnt", "quantile", "myerson", "hindsight", "oracle"} <= methods
    hours = read_table(settings, "gold.yield_experiment").to_pylist()
    assert {r["arm"] for r in hours} == {"treatment", "holdout"} and len(hours) >= 4
    assert sum(r["auctions"] for r in hours) == len(auctions_frame(settings))

    # The ad server, reading Redis, applies the rules to treatment auctions only.
    served = [json.loads(r.value)
              for r in itertools.islice(simulator(settings, live=True, start=NOW, seed=42), 6000)
              if r.topic == "auctions"]  # fmt: skip
    with_floor = [a for a in served if a["floor_rule"]]
    treated = [a for a in with_floor if a["arm"] == "treatment"]
    held = [a for a in with_floor if a["arm"] == "holdout"]
    assert treated and held
    assert all(a["floor_rule"] != "static" and a["floor_version"] == published.version
               for a in treated)  # fmt: skip
    assert all(a["floor_rule"] == "static" and a["floor_version"] is None for a in held)
    ids = {r.rule_id: r.floor_cpm for r in published.rules}
    assert all(a["floor_cpm"] == ids[a["floor_rule"]] for a in treated)

    # A second run replays against the rules now in force.
    again = run_yield(settings, now=NOW + timedelta(seconds=1), publish=False)
    assert "current" in again["replay"] and not again["published_to"]


def test_the_gate_fails_on_an_auction_filled_under_its_floor(lake):
    settings, _ = lake
    run_quality(settings, docs=False, only=["bronze.auctions"], now=NOW)
    row = read_table(settings, "bronze.auctions").slice(0, 1).to_pylist()[0]
    spec = next(t for t in ALL_TABLES if t.name == "bronze.auctions")
    bad = {**row, "event_id": "bad-auction", "filled": True, "floor_cpm": 9.0,
           "top_bid_cpm": 4.0, "clearing_cpm": 9.0}  # fmt: skip
    append_rows(settings, spec, [bad])
    with pytest.raises(DataQualityError) as failed:
        run_quality(settings, docs=False, only=["bronze.auctions"], now=NOW)
    assert "bronze.auctions: rules across fields" in str(failed.value)
    assert "bad-auction" in str(failed.value)


def test_the_ctr_model_is_trained_registered_and_ranks_cpc_bids(lake):
    from jobs.common.registry import champion_version, promote
    from jobs.simulate import champion_ctr
    from jobs.train.ctr_model import train_ctr_model

    settings, _ = lake
    report = train_ctr_model(settings, now=NOW)
    scores = report["scores"]
    assert {"candidate", "baseline", "truth"} <= set(scores)
    for found in scores.values():
        assert 0.5 <= found["auc"] <= 1 and found["log_loss"] > 0
    auc = scores["candidate"]["auc"]
    better = auc > scores["baseline"]["auc"] and auc > scores.get("champion", {"auc": 0})["auc"]
    assert report["promote"] == better
    name = settings.models.ctr_model.name
    assert (champion_version(settings, name) == report["version"]) == better

    promote(settings, name, report["version"])
    ctr = champion_ctr(settings)
    assert ctr.version == f"{name}-v{report['version']}"
    served = [json.loads(r.value)
              for r in itertools.islice(simulator(settings, start=NOW, seed=43, ctr=ctr), 6000)
              if r.topic == "auctions"]  # fmt: skip
    cpc = [a for a in served if a["top_bid_type"] == "cpc"]
    assert cpc and all(a["ctr_model_version"] == ctr.version for a in served)
    assert len({round(a["predicted_ctr"], 6) for a in cpc}) > 5  # it depends on the context
