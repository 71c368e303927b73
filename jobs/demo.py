"""The embedded demo: start the services, send simulated traffic, ingest it, show the lake.

make demo          (or: brandlake demo --events 200000)
"""

from __future__ import annotations

import logging

from infra.local import services
from jobs import bronze_ingest, simulate
from jobs.common.config import Settings
from jobs.common.lake import describe_tables, query_hints

log = logging.getLogger("brandlake.demo")


def run_demo(settings: Settings, events: int) -> None:
    log.info("1/3 starting the embedded broker and Redis")
    services.up(settings, log=log.info)
    log.info("2/3 sending %d simulated impressions and viewer events (1%% malformed)", events)
    records = simulate.simulator(settings, bad_ratio=0.01, rate_per_s=0)
    simulate.publish(settings, iter(records), count=events, duration_s=None, rate_per_s=0)
    log.info("3/3 bronze_ingest: Kafka -> bronze Delta tables, until caught up")
    bronze_ingest.main(["--available-now"])
    print()
    print(describe_tables(settings))
    print()
    print(query_hints(settings))
    print("\nThe services keep running: `brandlake services status`, `make services-down`.")
