"""Latency from a segment's arrival on Kafka to its exposure rows in gold and to Redis.

    make bench                       (BENCH_LATENCY_SECONDS=60 make bench for a quicker run)

A sample broadcast is ingested at real time (5 minutes by default; repackaged, as from an RTMP
encoder) while frame_analysis and exposure_revenue run in one Spark application, as in `make
demo`. For each segment: arrival = the Kafka timestamp of its `segments` event; gold = the
commit time of the exposure_revenue batch that wrote its frames (Delta history); Redis = when
that batch's aggregates appeared in Redis (polled every 50 ms). Printed as p50 / p95, over all
segments and over those after the first 30 s (Python workers starting and models loading), next
to the segment length and the model time per segment (the same models on one segment in this
process, warm), with the slowest segments and where Spark's batch time went. Goal: p95 under
two segment lengths plus the model time per segment.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time

import redis
from confluent_kafka import Consumer, TopicPartition

from jobs import exposure_revenue, frame_analysis
from jobs.common.kafka import client_config, watermarks
from jobs.common.live_state import EXPOSURE_KEY, redis_url
from jobs.common.registry import NoChampionError, champion
from jobs.ingest.run import ingest
from jobs.sample_media import generate
from jobs.train.brand_detector import train_brand_detector
from tests.support import batch_commits, read_table
from udfs.analysis.segment import analyse_segment

SECONDS = float(os.environ.get("BENCH_LATENCY_SECONDS", "300"))
STREAM = "arena-live"
WARM_UP_S = 30.0  # the first batches start Python workers and load models


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def watch_redis(settings, seen: dict[int, float], stop: threading.Event) -> None:
    client = redis.Redis.from_url(redis_url(settings), decode_responses=True)
    key = EXPOSURE_KEY.format(stream_id=STREAM)
    while not stop.is_set():
        batch = client.hget(key, "_batch_id")
        if batch is not None and int(batch) not in seen:
            seen[int(batch)] = time.time()
        time.sleep(0.05)


def test_segment_to_gold_and_redis_latency(isolated_settings, spark, tmp_path):
    settings = isolated_settings(
        train__profiles__bench={"images": 40, "image_size": 160, "epochs": 1, "batch": 8,
                                "patience": 1},
    )  # fmt: skip
    try:
        label = champion(settings, settings.models.brand_detector.name).label
    except NoChampionError:
        train_brand_detector(settings, "bench", device="cpu")
        label = champion(settings, settings.models.brand_detector.name).label + " (1 epoch)"
    conf = settings.sample_media.model_copy(update={"seconds": SECONDS})
    video = generate(settings.model_copy(update={"sample_media": conf}), tmp_path, "latency")

    models = frame_analysis.resolve_models(settings)
    analyzers = frame_analysis.analyzers_for(models)
    probe_lake = settings.lake.model_copy(update={"root": str(tmp_path / "probe")})
    probe = settings.model_copy(update={"lake": probe_lake})
    segments = sorted(
        ingest(probe, "probe", ["-i", str(video), "-t", "6"], transcode=True).landing.glob("*.ts")
    )
    analyse_segment(segments[0].as_uri(), analyzers)  # warm up
    started = time.perf_counter()
    for segment in segments:
        analyse_segment(segment.as_uri(), analyzers)
    model_s = (time.perf_counter() - started) / len(segments)

    queries = [job.start(settings, spark) for job in (frame_analysis, exposure_revenue)]
    seen: dict[int, float] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=watch_redis, args=(settings, seen, stop), daemon=True)
    watcher.start()
    try:
        # The sample has a keyframe every segment length, as an encoder publishing over RTMP is
        # set up to: the ingest repackages it (its RTMP default) instead of encoding again.
        ingest(settings, STREAM, ["-i", str(video)], transcode=False, realtime=True)
        for query in queries:
            query.processAllAvailable()
        spark_phases = {query.name: batch_phases(query.recentProgress) for query in queries}
    finally:
        for query in queries:
            query.stop()
        time.sleep(0.5)
        stop.set()

    arrivals = segment_arrivals(settings)
    batch_of = {}
    for row in read_table(settings, "silver.frame_brands").to_pylist():
        batch_of[row["segment_id"]] = min(batch_of.get(row["segment_id"], 1 << 30), row["batch_id"])
    commits = batch_commits(settings, "gold.brand_exposure_minute")
    to_gold, to_redis = [], []
    warm_gold, warm_redis = [], []  # segments after WARM_UP_S: workers started, models loaded
    first = min(arrivals.values())
    for segment_id, arrived in arrivals.items():
        batch = batch_of.get(segment_id)
        if batch is None or batch not in commits:
            continue
        warm = arrived - first >= WARM_UP_S
        to_gold.append(commits[batch] - arrived)
        if warm:
            warm_gold.append(to_gold[-1])
        if batch in seen:
            to_redis.append(seen[batch] - arrived)
            if warm:
                warm_redis.append(to_redis[-1])
    segment_s = settings.ingest.segment_seconds
    goal = 2 * segment_s + model_s
    print(
        f"\nlatency over a {SECONDS:.0f} s real-time run, {len(arrivals)} segments of "
        f"{segment_s:g} s, {settings.jobs.frame_analysis.sample_fps:g} fps sampled, "
        f"{os.cpu_count()} cores, brand detector {label}; model time per segment {model_s:.2f} s"
    )
    for name, values in (
        ("segment -> gold", to_gold),
        ("segment -> Redis", to_redis),
        (f"  after {WARM_UP_S:g} s: gold", warm_gold),
        (f"  after {WARM_UP_S:g} s: Redis", warm_redis),
    ):
        p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
        print(
            f"  {name:22} p50 {p50:6.2f} s   p95 {p95:6.2f} s   ({len(values)} segments; goal "
            f"p95 < {goal:.2f} s = 2 x {segment_s:g} s + {model_s:.2f} s)"
        )
    slowest = sorted(
        ((commits[batch_of[s]] - at, at - first) for s, at in arrivals.items()
         if batch_of.get(s) in commits), reverse=True,
    )[:5]  # fmt: skip
    print(
        "  slowest to gold: "
        + ", ".join(f"{lag:.1f} s (arrived at {t:.0f} s)" for lag, t in slowest)
    )
    for name, phases in spark_phases.items():
        parts = ", ".join(f"{part} {ms:.0f}" for part, ms in phases.items())
        print(f"  {name} batches, median ms: {parts}")
    assert len(to_gold) >= 0.9 * len(arrivals) and to_redis


def batch_phases(progress: list[dict]) -> dict[str, float]:
    """Median of each part of Spark's micro-batch durations (`durationMs`) over the batches
    that read something; `addBatch` is the job's own handler."""
    busy = [p["durationMs"] for p in progress if p.get("numInputRows")]
    return {
        part: statistics.median(d.get(part, 0) for d in busy)
        for part in ("triggerExecution", "latestOffset", "queryPlanning", "addBatch", "walCommit",
                     "commitOffsets")
    } if busy else {}  # fmt: skip


def segment_arrivals(settings) -> dict[str, float]:
    """Each segment event's Kafka timestamp (when ingest announced it), epoch seconds."""
    topic = settings.kafka.topics["segments"].name
    consumer = Consumer(
        client_config(settings, **{"group.id": "bench", "enable.auto.commit": False})
    )
    partitions = range(settings.kafka.topics["segments"].partitions)
    ends = watermarks(consumer, [(topic, p) for p in partitions], 10)
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    wanted, found = sum(e - b for b, e in ends.values()), {}
    while wanted:
        message = consumer.poll(10)
        assert message is not None
        event = json.loads(message.value())
        if event["stream_id"] == STREAM:  # not the segments that measured the model time
            found[event["event_id"]] = message.timestamp()[1] / 1000
        wanted -= 1
    consumer.close()
    return found
