"""Exactly-once for exposure_revenue: SIGKILL it mid-stream, restart it from its checkpoint, and
compare its gold tables and Redis aggregates with an uninterrupted run over the same records.

The kill aims at the moment silver holds a micro-batch whose gold minutes are not written yet
(between the input commit and the gold commits of one batch); when the machine is too fast for
that window, it lands mid-stream anyway, and the log says which.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis

from jobs.common.live_state import (
    AUDIENCE_KEY,
    EXPOSURE_KEY,
    MENTIONS_KEY,
    REVENUE_KEY,
    redis_url,
)
from jobs.exposure_revenue import run
from jobs.simulate import simulator
from schemas.tables import GOLD_TABLES
from tests.support import committed_batch, produce, read_table, start_job

pytestmark = [pytest.mark.spark, pytest.mark.services, pytest.mark.slow]
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
STREAMS = ("arena-live", "studio-talk")
BRANDS = ("fizzco", "lumen", "velocity")
LATENESS = {"BRANDLAKE_EXPOSURE__ALLOWED_LATENESS_S": "86400"}  # batch-independent: none late


def frame_messages() -> list[bytes]:
    """Three minutes of frames at 2 fps per stream; brands come and go in 7 to 13 s spells. A
    caption naming lumen is read once a second in 5 s of every 20, and fizzco is said every
    11 s (text and speech mentions, as frame_analysis attaches them)."""
    out = []
    for stream_index, stream in enumerate(STREAMS):
        for step in range(360):
            seconds = step / 2
            shown = [
                {"brand_id": b, "confidence": 0.8, "box": [0.1 * i, 0.2, 0.1 * i + 0.2, 0.4],
                 "area_share": 0.04}
                for i, b in enumerate(BRANDS)
                if int(seconds / (7 + 3 * i + stream_index)) % 2 == 0
            ]  # fmt: skip
            at = (T0 + timedelta(seconds=seconds)).isoformat()
            named = []
            if seconds % 20 < 5 and step % 2 == 0:
                named.append(
                    {
                        "mention_id": f"{stream}-{step}-text-lumen",
                        "brand_id": "lumen",
                        "kind": "text",
                        "mention_time": at,
                        "duration_s": 1.0,
                    }
                )
            if step % 22 == 3:
                named.append(
                    {
                        "mention_id": f"{stream}-{step}-speech-0",
                        "brand_id": "fizzco",
                        "kind": "speech",
                        "mention_time": at,
                        "duration_s": 0.6,
                    }
                )
            message = {
                "frame_id": f"{stream}-{step}", "stream_id": stream, "segment_id": "seg",
                "frame_time": (T0 + timedelta(seconds=seconds)).isoformat(), "interval_s": 0.5,
                "scene_label": "sports", "safety_score": 0.99, "person_count": 1, "brands": shown,
                "mentions": named,
            }  # fmt: skip
            out.append(json.dumps(message).encode())
    return out


def impressions() -> list[bytes]:
    out = []
    for n in range(600):
        stream, brand = STREAMS[n % 2], BRANDS[n % 3]
        out.append(json.dumps({
            "event_id": f"imp-{n}", "event_time": (T0 + timedelta(seconds=n * 0.3)).isoformat(),
            "stream_id": stream, "viewer_id": f"v-{n % 17}", "campaign_id": f"cmp-{brand}",
            "advertiser_id": "adv-x", "brand_id": brand, "slot_type": "overlay", "bid_cpm": 9.0,
            "clearing_cpm": 4.0 + n % 5, "currency": "USD", "device": "tv", "geo": "US",
        }).encode())  # fmt: skip
    return out


def beacons(settings) -> list[bytes]:
    """Three minutes of the simulated players' beacons (and clicks) on the same streams."""
    events = simulator(settings, start=T0, rate_per_s=10, seed=8)
    records = itertools.takewhile(lambda _: events.clock < T0 + timedelta(minutes=3), events)
    return [r.value for r in records if r.topic == "viewer_events" and r.key.decode() in STREAMS]


def gold(settings) -> dict[str, list[tuple]]:
    tables = {}
    for table in GOLD_TABLES:
        rows = read_table(settings, table.name).drop_columns(["updated_at"]).to_pylist()
        tables[table.name] = sorted((tuple(sorted(r.items())) for r in rows), key=repr)
    return tables


def live(settings) -> dict[str, dict]:
    client = redis.Redis.from_url(redis_url(settings), decode_responses=True)
    keys = [
        k.format(stream_id=s)
        for s in STREAMS
        for k in (EXPOSURE_KEY, REVENUE_KEY, AUDIENCE_KEY, MENTIONS_KEY)
    ]
    state = {key: client.hgetall(key) for key in keys}
    client.delete(*keys)
    for fields in state.values():
        fields.pop("_batch_id", None)  # which batch wrote it depends on where the kill fell
    return state


def test_kill_and_restart_gives_the_gold_tables_of_an_uninterrupted_run(
    isolated_settings, spark, tmp_path
):
    settings = isolated_settings(kafka__max_offsets_per_trigger=150)
    produce(settings, "detections", frame_messages())
    produce(settings, "impressions", impressions())
    produce(settings, "viewer_events", beacons(settings))
    log_path = tmp_path / "exposure_revenue.log"

    job = start_job("exposure_revenue", settings, log_path, env=LATENESS)
    deadline = time.monotonic() + 300
    between = False
    try:
        while True:
            assert job.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "exposure_revenue made no progress"
            silver = committed_batch(settings, "silver.frame_brands")
            gold_batch = committed_batch(settings, "gold.brand_exposure_minute")
            if silver >= 2 and silver > gold_batch:
                between = True
                break
            if silver >= 4:
                break
            time.sleep(0.01)
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait(30)
    killed_at = committed_batch(settings, "silver.frame_brands")
    assert read_table(settings, "silver.frame_brands").num_rows < 720, "finished before the kill"

    restarted = start_job("exposure_revenue", settings, log_path, "--available-now", env=LATENESS)
    assert restarted.wait(300) == 0, log_path.read_text()[-3000:]
    frames = read_table(settings, "silver.frame_brands").column("frame_id").to_pylist()
    assert len(frames) == len(set(frames)) == 720
    after_restart, live_after_restart = gold(settings), live(settings)

    folder = tmp_path / "reference"
    reference = settings.model_copy(
        update={
            "lake": settings.lake.model_copy(
                update={"root": str(folder / "lake"), "checkpoint_root": str(folder / "chk")}
            ),
            "exposure": settings.exposure.model_copy(update={"allowed_lateness_s": 86400}),
        }
    )
    run(reference, available_now=True)
    assert after_restart == gold(reference)
    assert live_after_restart == live(reference)
    assert all(after_restart.values())
    print(f"killed at batch {killed_at}, between silver and gold commits: {between}")
