"""The embedded demo: services, a sample broadcast ingested as a live stream, simulated ad
traffic, bronze_ingest, and a look at the lake.

    make demo          (or: brandlake demo --events 200000 --video-seconds 20)
"""

from __future__ import annotations

import logging
from pathlib import Path

from infra.local import services
from jobs import bronze_ingest, simulate
from jobs.common.config import Settings
from jobs.common.lake import describe_tables, query_hints
from jobs.ingest.run import ingest
from jobs.sample_media import generate

log = logging.getLogger("brandlake.demo")


def run_demo(settings: Settings, events: int, video_seconds: float) -> None:
    log.info("1/5 starting the embedded broker and Redis")
    services.up(settings, log=log.info)
    stream_id = settings.catalog.streams[0].stream_id
    log.info("2/5 rendering a %gs sample broadcast with the catalog's brands", video_seconds)
    conf = settings.sample_media.model_copy(update={"seconds": video_seconds})
    video = generate(
        settings.model_copy(update={"sample_media": conf}),
        Path(settings.home) / ".brandlake" / "media",
    )
    log.info("3/5 ingesting it as stream %s: HLS segments + one `segments` event each", stream_id)
    ingest(settings, stream_id, ["-i", str(video)], transcode=True)
    log.info("4/5 sending %d simulated impressions and viewer events (1%% malformed)", events)
    records = simulate.simulator(settings, bad_ratio=0.01, rate_per_s=0)
    simulate.publish(settings, iter(records), count=events, duration_s=None, rate_per_s=0)
    log.info("5/5 bronze_ingest: Kafka -> bronze Delta tables, until caught up")
    bronze_ingest.run(settings, available_now=True)
    print()
    print(describe_tables(settings))
    print(
        f"\nSample video: {video} (ground truth beside it); HLS: {settings.landing_uri(stream_id)}"
    )
    print()
    print(query_hints(settings))
    print("\nThe services keep running: `brandlake services status`, `make services-down`.")
