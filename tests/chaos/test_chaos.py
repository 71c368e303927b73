"""Chaos: the live pipeline under seeded random faults, then an exact comparison of everything
it wrote with a fault-free run over the same inputs.

    make chaos                          # CHAOS_FAULTS=20 faults, a fresh seed each run
    CHAOS_SEED=4242 make chaos          # replay a run: its seed is printed with its faults

`make test` runs the short version: CHAOS_FAULTS=5 with a fixed seed. The faults, their kinds
and what they do are in `tests/chaos/harness.py`; the run prints a table of them.

The oracle. After the faulted run has read everything, the three jobs run once more with
`--available-now` semantics on a fresh lake over the same Kafka records (the segments ingest
announced, the ad events sent), with their own `detections` topic. Then:
- bronze holds every Kafka record once: every valid ad event's id once, the quarantine exactly
  the malformed events sent and the unreadable segments announced;
- every announced segment was analysed, each frame once; every frame message read once;
- every table equals the reference's row for row, and Redis's live state equals the reference's.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

import pytest
import redis

from jobs import bronze_ingest, exposure_revenue, frame_analysis
from jobs.common.config import Settings
from jobs.common.kafka import ensure_topics
from jobs.common.live_state import redis_url
from jobs.ingest.ffmpeg import PLAYLIST
from jobs.ingest.playlist import read_playlist
from jobs.sample_media import generate
from schemas.tables import BRONZE_TABLES, GOLD_TABLES, QUARANTINE, SILVER_TABLES
from tests.chaos.harness import (
    JOB_INPUTS,
    JOBS,
    Pipeline,
    clear_live_state,
    comparable_rows,
    live_state,
    plan,
    timed,
)
from tests.support import DEMO_STREAM, committed_batch, isolated, read_table

pytestmark = [pytest.mark.spark, pytest.mark.services, pytest.mark.slow]

FAULTS = int(os.environ.get("CHAOS_FAULTS", "5"))
SEED = int(os.environ.get("CHAOS_SEED", "20261214"))
WINDOW_S = 9.0 * FAULTS  # faults at seeded times in this window, once the pipeline flows
SETTLE_S = 8.0  # the stream goes on this long after the last fault
AD_STEPS_PER_S = 40  # simulator steps a second: about 80 ad events
JOB_SETTINGS = {
    # Every frame joins every impression near it, whatever the batch it came in: the comparison
    # is with one run that reads everything at once, so nothing may be dropped as late here.
    "exposure__allowed_lateness_s": 86400,
    # A frame a second, no bisection: the faults matter here, not the exposure's precision.
    "jobs__frame_analysis__sample_fps": 1.0,
    "jobs__frame_analysis__refine_boundaries": False,
}
TABLES = [*BRONZE_TABLES.values(), QUARANTINE, *SILVER_TABLES,
          *exposure_revenue.INPUT_TABLES.values(), *GOLD_TABLES]  # fmt: skip


def reference_settings(settings: Settings, folder) -> Settings:
    """The same inputs, a lake and checkpoints of its own, its own `detections` topic."""
    topics = dict(settings.kafka.topics)
    detections = topics["detections"]
    topics["detections"] = detections.model_copy(update={"name": f"{detections.name}-ref"})
    reference = settings.model_copy(update={
        "lake": settings.lake.model_copy(update={
            "root": str(folder / "lake"), "checkpoint_root": str(folder / "checkpoints")}),
        "kafka": settings.kafka.model_copy(update={"topics": topics}),
    })  # fmt: skip
    ensure_topics(reference)
    return reference


@pytest.mark.timeout(3600)
def test_faults_at_random_leave_the_lake_exact(brand_champion, stack, tmp_path):
    settings = isolated(stack, tmp_path, **JOB_SETTINGS, sample_media__seconds=12,
                        sample_media__width=640, sample_media__height=360)  # fmt: skip
    client = redis.Redis.from_url(redis_url(settings), decode_responses=True)
    clear_live_state(client)
    video = generate(settings, tmp_path / "media", name="chaos")
    faults = plan(SEED, FAULTS, WINDOW_S)
    print(f"\nchaos: seed {SEED} (CHAOS_SEED={SEED} replays it), {FAULTS} faults in "
          f"{WINDOW_S:.0f} s")  # fmt: skip
    pipeline = Pipeline(
        settings, stack, video, DEMO_STREAM, tmp_path, SEED,
        job_overrides={f"BRANDLAKE_{k.upper()}": str(v) for k, v in JOB_SETTINGS.items()},
    )  # fmt: skip
    started = time.monotonic()
    try:
        with timed(print, "until frame_analysis committed its first segment"):
            pipeline.start(AD_STEPS_PER_S, bad_ratio=0.01, timeout_s=600)
            pipeline.wait_until(
                lambda: committed_batch(settings, "silver.segment_context") >= 0,
                "the pipeline flowing", 300,
            )  # fmt: skip
        opened = time.monotonic()
        for fault in faults:
            time.sleep(max(0.0, opened + fault.at_s - time.monotonic()))
            pipeline.strike(fault)
        time.sleep(SETTLE_S)
        with timed(print, "stop the input, every job caught up"):
            sent = pipeline.finish(timeout_s=600)
    finally:
        pipeline.supervisor.shutdown()
        print(pipeline.table())
    faulted_run_s = time.monotonic() - started

    faulted = {table.name: comparable_rows(settings, table.name) for table in TABLES}
    faulted_live = live_state(client)
    clear_live_state(client)

    # Bronze: every record once; the quarantine exactly what was malformed or unreadable.
    valid = Counter((r.topic, json.loads(r.value)["event_id"]) for r in sent if not r.bad_kind)
    for topic in {topic for topic, _ in valid}:
        ids = read_table(settings, f"bronze.{topic}").column("event_id").to_pylist()
        assert Counter((topic, i) for i in ids) == Counter({k: n for k, n in valid.items()
                                                            if k[0] == topic}), topic  # fmt: skip
    # Each job that reads a topic quarantines its bad records (bronze_ingest finds nothing
    # wrong with an unreadable segment's event; frame_analysis cannot decode its file).
    quarantined = read_table(settings, QUARANTINE.name).to_pylist()
    names = {key: topic.name for key, topic in settings.kafka.topics.items()}
    readers = {key: sum(key in JOB_INPUTS[job] for job in JOBS) for key in names}
    expected = Counter({(names["segments"], payload): 1 for payload in pipeline.unreadable})
    for record in sent:
        if record.bad_kind:
            expected[(names[record.topic], record.value)] += readers[record.topic]
    assert Counter((q["kafka_topic"], q["payload"]) for q in quarantined) == expected

    # Ingest: every segment ffmpeg finished announced once, numbered without a gap.
    listed, _ = read_playlist(Path(settings.landing_uri(DEMO_STREAM)) / PLAYLIST)
    segments = read_table(settings, "bronze.segments").to_pylist()
    sequences = sorted(s["sequence"] for s in segments if s["stream_id"] == DEMO_STREAM)
    assert sequences == list(range(len(sequences))), "a segment announced twice, or a gap"
    assert listed and {e.sequence for e in listed} == set(sequences)

    # Silver: every announced segment analysed, each frame and frame message once.
    frames = read_table(settings, "silver.segment_context").to_pylist()
    keys = [(f["segment_id"], f["frame_index"], f["refined"]) for f in frames]
    assert len(keys) == len(set(keys)), "a frame analysed twice"
    announced = {s["event_id"] for s in segments}
    readable = announced - {json.loads(p)["event_id"] for p in pipeline.unreadable}
    assert {f["segment_id"] for f in frames} == readable, "an announced segment not analysed"
    frame_ids = read_table(settings, "silver.frame_brands").column("frame_id").to_pylist()
    assert len(frame_ids) == len(set(frame_ids)) == len(frames), "a frame message lost or twice"

    # The oracle: the same inputs, no faults.
    reference = reference_settings(settings, tmp_path / "reference")
    with timed(print, "the fault-free reference run"):
        for job in (bronze_ingest, frame_analysis, exposure_revenue):
            job.run(reference, available_now=True)
    for table in TABLES:
        assert faulted[table.name] == comparable_rows(reference, table.name), table.name
        assert faulted[table.name] or table.name in ("silver.clicks",), f"{table.name} is empty"
    assert faulted_live == live_state(client)
    print(f"chaos: {len(pipeline.faults)} faults, {len(sent)} ad events, {len(readable)} "
          f"segments, {len(frames)} frames; faulted run {faulted_run_s:.0f} s; lake and live "
          "state equal the reference's")  # fmt: skip
