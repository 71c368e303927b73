"""The embedded demo, end to end: services, the brand detector, a sample broadcast ingested live
while simulated ad traffic flows, all three streaming jobs, and a summary per brand.

    make demo          (or: brandlake demo --video-seconds 60 --rate 500)

Steps: start the broker and Redis; the brand detector: the registry's champion, or the one
shipped in models/brand-detector/ as its first version (the quick profile is trained, about 25
minutes on 2 cores, only when that one does not fit the catalog); render a sample broadcast; start
bronze_ingest, frame_analysis and exposure_revenue in one Spark application; ingest the video at
real time as the catalog's first stream while the simulator sends auctions, impressions, clicks
and viewer events for the same wall-clock time; let the jobs catch up; print exposure and revenue
per brand, the tables and how to query them. Ctrl-C stops ingest and the jobs cleanly; the
services keep running (`make services-down`).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from infra.local import services
from jobs import bronze_ingest, exposure_revenue, frame_analysis, simulate
from jobs.common.config import Settings
from jobs.common.kafka import ensure_topics
from jobs.common.lake import describe_tables, query_hints
from jobs.common.registry import NoChampionError, champion
from jobs.common.spark import build_session
from jobs.exposure.report import brand_summary, format_summary
from jobs.ingest.run import ingest
from jobs.sample_media import generate
from jobs.train.brand_detector import train_brand_detector

log = logging.getLogger("brandlake.demo")
JOBS = (bronze_ingest, frame_analysis, exposure_revenue)


def ensure_champion(settings: Settings) -> str:
    name = settings.models.brand_detector.name
    try:
        return champion(settings, name).label
    except NoChampionError:
        log.info(
            "no %s champion and none shipped that fits the catalog: training the quick profile "
            "(about 25 min on 2 cores)",
            name,
        )
        train_brand_detector(settings, "quick")
        return champion(settings, name).label


def run_demo(settings: Settings, video_seconds: float, rate_per_s: float) -> Path:
    """Run the demo; returns the sample video (its ground truth beside it)."""
    log.info("1/7 starting the embedded broker and Redis")
    services.up(settings, log=log.info)
    settings = services.resolve(settings)
    ensure_topics(settings)
    log.info("2/7 brand detector: %s", ensure_champion(settings))
    stream_id = settings.catalog.streams[0].stream_id
    log.info("3/7 rendering a %gs sample broadcast with the catalog's brands", video_seconds)
    conf = settings.sample_media.model_copy(update={"seconds": video_seconds})
    video = generate(
        settings.model_copy(update={"sample_media": conf}),
        Path(settings.home) / ".brandlake" / "media",
    )
    log.info("4/7 starting bronze_ingest, frame_analysis and exposure_revenue")
    spark = build_session(settings, app_name="brandlake-demo")
    queries = [job.start(settings, spark) for job in JOBS]
    try:
        log.info(
            "5/7 ingesting the video at real time as %s, with %g simulated ad events/s",
            stream_id,
            rate_per_s,
        )
        traffic = threading.Thread(
            target=simulate.publish,
            # The ad server reads the published floors and what frame_analysis sees.
            args=(settings, iter(simulate.simulator(settings, live=True, rate_per_s=rate_per_s,
                                                    screen="live")), None,
                  video_seconds, rate_per_s),
            name="simulator",
            daemon=True,
        )  # fmt: skip
        traffic.start()
        # The sample has a keyframe every segment length, as from an RTMP encoder, so ingest
        # repackages it; re-encoding 720p at real time would take a core from the jobs.
        ingest(settings, stream_id, ["-i", str(video)], transcode=False, realtime=True)
        traffic.join()
        log.info("6/7 the video has ended; letting the jobs catch up")
        for query in queries:  # in pipeline order: each one's output feeds the next
            query.processAllAvailable()
            if query.exception() is not None:
                raise RuntimeError(f"{query.name} failed: {query.exception()}")
    finally:
        for query in queries:
            if query.isActive:
                query.stop()
    log.info("7/7 done")
    print()
    print(f"Brand exposure and revenue on {stream_id} ({video_seconds:g} s of video):")
    print(format_summary(brand_summary(settings, stream_id), settings.catalog.rate_card.currency))
    print()
    print(describe_tables(settings))
    print(f"\nSample video: {video} (its ground truth beside it)")
    print(f"HLS: {settings.landing_uri(stream_id)}/index.m3u8")
    print()
    print(query_hints(settings))
    conf = settings.dashboard
    print(
        f"\nSee it in the dashboard: `brandlake dashboard` (or `make dashboard`), then open "
        f"http://{conf.address}:{conf.port}/?stream={stream_id}"
    )
    print(
        "The batch half: `brandlake airflow up` starts Airflow with the DAGs in dags/ on "
        f"http://127.0.0.1:{settings.airflow.port} (user admin, its password printed); "
        "`brandlake quality` and `brandlake maintenance` run two of them once."
    )
    print("The services keep running: `brandlake services status`, `make services-down`.")
    return video
