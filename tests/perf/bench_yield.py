"""Yield: the closed loop proves the floors earn more, and what the batch costs.

    make bench          (BENCH_YIELD_RECORDS=100000 BENCH_YIELD_AUCTIONS=200000
                         BENCH_CTR_RECORDS=1000000 for a quicker run)

1. Closed loop, once per bidder behaviour (neutral, shading toward floors, raising to meet
   them): simulated traffic with the static floors everywhere -> Kafka -> bronze_ingest ->
   `brandlake yield` (learns, replays, publishes to Redis) -> the ad server reads the floors ->
   as much traffic again -> bronze -> the experiment's readout on that second phase: treatment
   (published floors) against holdout (static floors) in revenue per 1000 auctions, with the
   95 % bootstrap interval, and the fill-rate change; and on the replay window, the learnt
   floors against the same segments' best floors in hindsight (the oracle of the goal) and
   against each auction at its reach (its top value, or more for bidders who meet floors).
   The first phase is also an A/A run: both arms static.
2. The CTR model on a run of its own (BENCH_CTR_RECORDS records, static floors: enough
   training clicks of every slot type for the model's calibration to be read to a few
   percent): AUC next to that of the true click probabilities, calibration per slot type
   against observed and expected clicks.
3. The batch's cost: BENCH_YIELD_AUCTIONS auctions (1M: the goal's size) in bronze.auctions,
   `run_yield` end to end, next to reading them alone with Spark (its baseline).
"""

from __future__ import annotations

import itertools
import os
import time
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import redis

from jobs import bronze_ingest
from jobs.auction.floor_rules import FLOORS_KEY
from jobs.common.lake import append_rows
from jobs.common.live_state import redis_url
from jobs.floors.experiment import uplift
from jobs.simulate import TOPICS, simulator
from jobs.yield_optimization import extract, run_yield
from schemas.events import AUCTIONS as AUCTION_EVENT
from schemas.tables import BRONZE_TABLES
from tests.support import isolated, produce, read_table

RECORDS = int(os.environ.get("BENCH_YIELD_RECORDS", "300000"))  # per phase: ~35 % auctions
# The CTR model's calibration per slot type is as good as its training clicks of the rarest
# slot (sponsor cards, 6 % of impressions): 1M records gave it 300 clicks, read to +-6 %.
CTR_RECORDS = int(os.environ.get("BENCH_CTR_RECORDS", "4000000"))
CHUNK = 500_000
AUCTIONS = int(os.environ.get("BENCH_YIELD_AUCTIONS", "1000000"))
BEHAVIOURS = ("neutral", "shading", "raising")
NOW = datetime.now(UTC).replace(microsecond=0)


def send(settings, start: datetime, seed: int, live: bool, records: int = RECORDS) -> None:
    """`records` records of traffic over the hour from `start` into bronze, produced to Kafka
    in chunks (a few million records do not fit in memory at once)."""
    stream = simulator(settings, start=start, rate_per_s=records / 3600, seed=seed, live=live)
    for done in range(0, records, CHUNK):
        chunk = list(itertools.islice(stream, min(CHUNK, records - done)))
        for key in TOPICS:
            produce(settings, key, (r.value for r in chunk if r.topic == key))
    bronze_ingest.run(settings, available_now=True)


def auctions_between(settings, start: datetime, end: datetime) -> pd.DataFrame:
    frame = read_table(settings, "bronze.auctions").to_pandas()
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True)
    return frame[(frame["event_time"] >= start) & (frame["event_time"] < end)]


def line(label: str, found) -> str:
    return (
        f"  {label:28} treatment {found.treatment_rpm:7.3f} vs holdout {found.holdout_rpm:7.3f} "
        f"per 1000 auctions: {found.uplift:+6.1%} (95 % {found.low:+.1%} .. {found.high:+.1%}), "
        f"fill {found.fill_rate_delta * 100:+.1f} pt"
    )


@pytest.mark.timeout(3600)
def test_closed_loop_per_bidder_behaviour(stack, spark, tmp_path):
    print(f"\nyield closed loop: {RECORDS} records per phase (about {RECORDS * 0.35:,.0f} "
          f"auctions), {os.cpu_count()} cores")  # fmt: skip
    first_start, second_start = NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    for index, behaviour in enumerate(BEHAVIOURS):
        settings = isolated(  # its own topics, lake and checkpoints
            stack, tmp_path / behaviour, simulate__market__bidder_behaviour=behaviour,
            yield_optimization__lookback_hours=3,
        )  # fmt: skip
        client = redis.Redis.from_url(redis_url(settings))
        client.delete(FLOORS_KEY)
        try:
            send(settings, first_start, seed=100 + index, live=False)
            started = time.monotonic()
            summary = run_yield(settings, now=second_start)
            batch_s = time.monotonic() - started
            send(settings, second_start, seed=200 + index, live=True)
        finally:
            client.delete(FLOORS_KEY)
        a_a = uplift(auctions_between(settings, first_start, second_start), 1000)
        a_b = uplift(auctions_between(settings, second_start, NOW), 1000)
        replay = summary["replay"]
        learnt = replay["learnt"]["revenue_per_1000"]
        print(f" {behaviour}: {summary['rules']} rules, published: {summary['reason']} "
              f"(batch {batch_s:.0f} s)")  # fmt: skip
        print(line("A/A (both arms static)", a_a))
        print(line("A/B (published floors)", a_b))
        print(
            f"  replay: learnt {learnt:.3f} = "
            f"{learnt / replay['hindsight']['revenue_per_1000']:.1%} of the hindsight floors, "
            f"{learnt / replay['oracle']['revenue_per_1000']:.1%} of every auction at its reach; "
            f"static "
            f"{replay['static']['revenue_per_1000']:.3f}, quantile "
            f"{replay['quantile']['revenue_per_1000']:.3f}, Myerson "
            f"{replay['myerson']['revenue_per_1000']:.3f}"
        )


@pytest.mark.timeout(3600)
def test_ctr_model_against_the_true_click_probabilities(stack, spark, tmp_path):
    from jobs.train.ctr_model import train_ctr_model

    settings = isolated(stack, tmp_path)
    send(settings, NOW - timedelta(hours=1), seed=300, live=False, records=CTR_RECORDS)
    report = train_ctr_model(settings, now=NOW)
    scores = report["scores"]
    slots = sorted(k.removeprefix("calibration_slot_") for k in scores["candidate"]
                   if k.startswith("calibration_slot_"))  # fmt: skip
    print(f"  CTR model ({report['train_rows']} impressions to train, {report['test_rows']} to "
          f"test, {report['clicks']} clicks): {'; '.join(report['reasons'])}")  # fmt: skip
    for who in ("candidate", "baseline", "truth"):
        found = scores[who]
        observed = " ".join(f"{s} {found[f'calibration_slot_{s}']:.2f}" for s in slots)
        expected = " ".join(f"{s} {found[f'calibration_expected_slot_{s}']:.2f}" for s in slots)
        print(f"    {who:9} AUC {found['auc']:.4f} NE {found['normalised_entropy']:.4f} "
              f"calibration {found['calibration']:.3f}; per slot against observed clicks "
              f"({observed}), against expected clicks ({expected})")  # fmt: skip


@pytest.mark.timeout(3600)
def test_batch_over_a_million_auctions(isolated_settings, spark):
    settings = isolated_settings(yield_optimization__lookback_hours=48)
    started = time.monotonic()
    write_auctions(settings, AUCTIONS)
    print(f"\nyield batch over {AUCTIONS:,} auctions in bronze.auctions "
          f"(written in {time.monotonic() - started:.0f} s), {os.cpu_count()} cores")  # fmt: skip
    started = time.monotonic()
    count = len(extract(spark, settings, NOW - timedelta(hours=48)))
    read_s = time.monotonic() - started
    started = time.monotonic()
    summary = run_yield(settings, now=NOW, publish=False)
    total_s = time.monotonic() - started
    print(f"  Spark read alone: {count:,} auctions in {read_s:.1f} s")
    print(f"  run_yield end to end: {total_s:.1f} s ({summary['rules']} rules); "
          f"ratio to the read alone {total_s / read_s:.1f}")  # fmt: skip
    assert count == AUCTIONS


def write_auctions(settings, total: int) -> None:
    """`total` simulated auctions straight into bronze.auctions (delta-rs), spread over the
    last 40 hours: the batch's input without the hours Kafka and bronze_ingest would take."""
    start = NOW - timedelta(hours=40)
    spacing = timedelta(hours=40) / total
    table = BRONZE_TABLES["auctions"]
    stream = simulator(settings, start=start, rate_per_s=0, seed=5)
    batch: list[dict] = []
    written = 0
    for index, record in enumerate(r for r in stream if r.topic == "auctions"):
        if written + len(batch) >= total:
            break
        event, _ = AUCTION_EVENT.parse(record.value)
        event["event_time"] = start + spacing * index
        batch.append({**event, "payload": record.value.decode(), "kafka_topic": "auctions",
                      "kafka_partition": 0, "kafka_offset": index, "kafka_timestamp": NOW,
                      "ingest_time": NOW, "event_date": event["event_time"].date()})  # fmt: skip
        if len(batch) == 100_000:
            append_rows(settings, table, batch)
            written += len(batch)
            batch = []
    if batch:
        append_rows(settings, table, batch)
    assert read_table(settings, table.name).num_rows == total
