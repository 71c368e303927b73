"""yield_optimization: floor prices learnt from the bid landscape, published where the ad server
reads them, and the yield experiment's readout.

    brandlake yield [--no-publish] [--set yield_optimization.lookback_hours=6]

1. extract: the auctions of the last `yield_optimization.lookback_hours` from `bronze.auctions`
   (Spark over the Delta table), to the driver as pandas (1M auctions are about 150 MB).
2. transform: a rule set learnt on the older part of the window and replayed with the baselines
   on the newest part, and the decision to publish it (`jobs/floors/optimise.py`); the
   experiment's readout per hour and arm (`jobs/floors/experiment.py`).
3. load: `gold.floor_rules` and `gold.floor_replay` (appended, published or not), the window's
   hours of `gold.yield_experiment` (replaced); when published, Redis `brandlake:floors` (one SET:
   the ad server sees the old rule set or the new one) and a Prebid floors file at
   `<lake.root>/floors/prebid-floors.json`.

The `yield_optimization` DAG runs it hourly behind a data-quality gate on `bronze.auctions`.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.auction.floor_rules import FLOORS_KEY, FloorRules
from jobs.common.config import Settings
from jobs.common.lake import append_rows, replace_rows, write_lake_file
from jobs.common.live_state import redis_client, redis_url
from jobs.floors.experiment import hourly_readout
from jobs.floors.optimise import AUCTION_COLUMNS, Optimisation, optimise, prepare
from schemas.tables import BRONZE_TABLES, FLOOR_REPLAY, FLOOR_RULES, YIELD_EXPERIMENT

log = logging.getLogger("brandlake.yield")
PREBID_FILE = "floors/prebid-floors.json"


class NoAuctionsError(RuntimeError):
    """There are no auctions in the window to learn from; the message says where it looked."""


# -- extract ------------------------------------------------------------------------------------


def extract(spark: SparkSession, settings: Settings, since: datetime) -> pd.DataFrame:
    """The logged auctions from `since` on (event time), with the columns the batch uses."""
    uri = settings.table_uri(BRONZE_TABLES["auctions"].name)
    frame = (
        spark.read.format("delta")
        .load(uri)
        .where(F.col("event_date") >= F.lit(since.date()))
        .where(F.col("event_time") >= F.lit(since))
        .select(*AUCTION_COLUMNS)
        .toPandas()
    )
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True)
    return frame


def rules_in_force(settings: Settings) -> FloorRules | None:
    """The rule set the ad server applies now (Redis), if any."""
    text = redis_client(redis_url(settings)).get(FLOORS_KEY)
    return FloorRules.from_json(text) if text else None


# -- transform ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class YieldRun:
    optimisation: Optimisation
    experiment: list[dict]  # gold.yield_experiment rows
    hours: tuple[datetime, datetime]  # the window's first and last hour


def transform(
    auctions: pd.DataFrame, settings: Settings, current: FloorRules | None, now: datetime
) -> YieldRun:
    """Learn, replay and decide; read out the experiment over the same window."""
    conf = settings.yield_optimization
    prepared = prepare(auctions, settings.catalog, conf)
    version = f"{now:%Y%m%dT%H%M%SZ}"
    result = optimise(prepared, conf, current, version, now, settings.catalog.rate_card.currency)
    experiment = hourly_readout(auctions, conf.bootstrap_samples)
    hours = auctions["event_time"].dt.floor("h")
    return YieldRun(result, experiment, (hours.min().to_pydatetime(), hours.max().to_pydatetime()))


def rule_rows(result: Optimisation, now: datetime) -> list[dict]:
    rules = result.rules
    return [
        {
            "version": rules.version,
            "rule_id": rule.rule_id,
            "dimensions": ",".join(rules.dimensions),
            "match": json.dumps(list(rule.match)),
            "floor_cpm": rule.floor_cpm,
            "train_auctions": len(segment.rows),
            "method": rules.method,
            "published": result.publish,
            "decision": result.reason,
            "valid_from": rules.valid_from,
            "created_at": now,
        }
        for rule, segment in zip(rules.rules, result.segments, strict=True)
    ]


def replay_rows(result: Optimisation, now: datetime) -> list[dict]:
    return [
        {"version": result.rules.version, "method": method, "name": r.name,
         "auctions": r.auctions, "fill_rate": r.fill_rate,
         "revenue_per_1000": r.revenue_per_1000, "created_at": now}
        for method, r in result.replays.items()
    ]  # fmt: skip


# -- load ---------------------------------------------------------------------------------------


def publish(settings: Settings, rules: FloorRules) -> str:
    """The rules where the ad server reads them (Redis, one SET) and as a Prebid floors file;
    returns the file's location."""
    redis_client(redis_url(settings)).set(FLOORS_KEY, rules.to_json())
    return write_lake_file(settings, PREBID_FILE, json.dumps(rules.prebid(), indent=2).encode())


def load(settings: Settings, run: YieldRun, now: datetime, allow_publish: bool) -> dict:
    result = run.optimisation
    append_rows(settings, FLOOR_RULES, rule_rows(result, now))
    append_rows(settings, FLOOR_REPLAY, replay_rows(result, now))
    first, last = run.hours
    rows = [{**row, "updated_at": now} for row in run.experiment]
    replace_rows(settings, YIELD_EXPERIMENT, rows,
                 f"hour >= '{first.isoformat()}' AND hour <= '{last.isoformat()}'")  # fmt: skip
    summary = result.summary()
    summary["published_to"] = ""
    if result.publish and allow_publish:
        summary["published_to"] = publish(settings, result.rules)
    return summary


def run_yield(settings: Settings, publish: bool = True, now: datetime | None = None) -> dict:
    """extract -> transform -> load; returns the run's summary (see `Optimisation.summary`)."""
    from jobs.common.spark import build_session

    started = time.monotonic()
    now = now or datetime.now(UTC)
    since = now - timedelta(hours=settings.yield_optimization.lookback_hours)
    spark = build_session(settings, "yield_optimization")
    auctions = extract(spark, settings, since)
    if auctions.empty:
        raise NoAuctionsError(
            f"no auctions in {BRONZE_TABLES['auctions'].name} since {since:%Y-%m-%d %H:%M} UTC: "
            "run bronze-ingest over the auctions topic (`brandlake simulate` feeds it)"
        )
    log.info("%d auctions since %s (%.1f s)", len(auctions), since, time.monotonic() - started)
    run = transform(auctions, settings, rules_in_force(settings), now)
    summary = load(settings, run, now, publish)
    summary["seconds"] = round(time.monotonic() - started, 1)
    log.info("rule set %s: %d rules, %s", run.optimisation.rules.version,
             len(run.optimisation.rules.rules), run.optimisation.reason)  # fmt: skip
    return summary


def print_summary(summary: dict) -> None:
    state = "published" if summary["published_to"] else "not published"
    print(
        f"floor rules {summary['version']}: {summary['rules']} rules from "
        f"{summary['train_auctions']} auctions, {state}: {summary['reason']}"
    )
    print(f"replay on the newest {summary['replay_auctions']} auctions:")
    for replay in summary["replay"].values():
        print(f"  {replay['name']:48} fill {replay['fill_rate']:.3f}  revenue per 1000 auctions "
              f"{replay['revenue_per_1000']:.3f}")  # fmt: skip
    if summary["published_to"]:
        print(f"Redis {FLOORS_KEY} and {summary['published_to']} ({summary['seconds']} s)")


def main(argv: list[str] | None = None) -> dict:
    from jobs.common.config import add_set_option, parse_overrides
    from jobs.entrypoint import command_settings

    parser = argparse.ArgumentParser(prog="brandlake yield", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--no-publish", action="store_true", help="learn, replay and record, publish nothing"
    )
    add_set_option(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    summary = run_yield(command_settings(parse_overrides(args.set)), publish=not args.no_publish)
    print_summary(summary)
    return summary


if __name__ == "__main__":
    main()
