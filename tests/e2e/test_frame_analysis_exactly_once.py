"""Exactly-once for frame_analysis: SIGKILL it while it analyses a broadcast, restart it from its
checkpoint, and compare its silver tables with an uninterrupted run over the same segments.

The kill lands after its first micro-batch committed and before the last: mid-stream, with
models loaded and a batch of segments in flight (one segment per batch, so there is one).
"""

from __future__ import annotations

import os
import signal

import pytest

from jobs.frame_analysis import run
from jobs.ingest.run import ingest
from jobs.sample_media import generate
from tests.support import (
    DEMO_STREAM,
    DEMO_VIDEO_SECONDS,
    isolated,
    read_table,
    start_job,
    wait_for_batch,
)

pytestmark = [pytest.mark.spark, pytest.mark.services, pytest.mark.slow]


def analysed(settings) -> tuple[list[tuple], list[tuple]]:
    """(frames, detections) as comparable rows: which frames were analysed and what was found
    (values that depend on when the run happened left out)."""
    frames = read_table(settings, "silver.segment_context").to_pylist()
    detections = read_table(settings, "silver.detections").to_pylist()
    return (
        sorted((f["segment_id"], f["frame_index"], f["refined"], f["brand_count"]) for f in frames),
        sorted((d["detection_id"], d["label"], round(d["confidence"], 3)) for d in detections),
    )


@pytest.mark.timeout(900)
def test_kill_and_restart_analyses_every_frame_once(brand_champion, stack, tmp_path):
    settings = isolated(
        stack, tmp_path, sample_media__seconds=DEMO_VIDEO_SECONDS,
        kafka__max_offsets_per_trigger=1,  # a segment per batch: the kill finds one in flight
    )  # fmt: skip
    video = generate(settings, tmp_path / "media", name="kill")
    segments = ingest(settings, DEMO_STREAM, ["-i", str(video)], transcode=False).announced
    assert segments >= 4
    log_path = tmp_path / "frame_analysis.log"

    job = start_job("frame_analysis", settings, log_path)
    try:
        wait_for_batch(settings, "silver.segment_context", 0, job, log_path, timeout_s=600)
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait(30)
    done_before = len({f[0] for f in analysed(settings)[0]})
    assert 0 < done_before < segments, "the kill did not land mid-stream"

    restarted = start_job("frame_analysis", settings, log_path, "--available-now")
    assert restarted.wait(600) == 0, log_path.read_text()[-3000:]
    frames, detections = analysed(settings)
    keys = [(segment, index, refined) for segment, index, refined, _ in frames]
    assert len(keys) == len(set(keys)), "a frame analysed twice"
    assert len({d[0] for d in detections}) == len(detections), "a detection written twice"
    assert len({f[0] for f in frames}) == segments, "a segment lost"

    reference = settings.model_copy(update={"lake": settings.lake.model_copy(update={
        "root": str(tmp_path / "reference" / "lake"),
        "checkpoint_root": str(tmp_path / "reference" / "checkpoints"),
    })})  # fmt: skip
    run(reference, available_now=True)
    assert (frames, detections) == analysed(reference)
