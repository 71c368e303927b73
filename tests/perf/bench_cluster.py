"""The cluster path's scaling: the same work on a standalone cluster of one worker, then two
(one core each), through `brandlake submit`.

    make bench    (BENCH_CLUSTER_SECONDS=30 BENCH_CLUSTER_RECORDS=100000 for a quicker run)

1. frame_analysis over one sample broadcast (BENCH_CLUSTER_SECONDS of video, at the default
   2 frames/s plus boundary frames): frames per second of the job's batches (the time its log
   gives each batch; the JVM's and executors' start are not in it);
2. bronze_ingest over BENCH_CLUSTER_RECORDS simulated records, the same way.
The figure is the ratio two workers / one worker (the goal: >= 1.7 for frame analysis).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
from pathlib import Path

import pytest

from infra.local import cluster
from jobs.entrypoint import command_settings
from jobs.ingest.run import ingest
from jobs.sample_media import generate
from tests.support import DEMO_STREAM, cluster_env, isolated, read_table, submit, traffic

SECONDS = float(os.environ.get("BENCH_CLUSTER_SECONDS", "60"))
RECORDS = int(os.environ.get("BENCH_CLUSTER_RECORDS", "300000"))
BATCH_TIME = re.compile(r"batch \d+: .* \((\d+\.\d+)s")

pytestmark = pytest.mark.timeout(3600)


def batch_seconds(log: Path) -> float:
    return sum(float(m.group(1)) for m in BATCH_TIME.finditer(log.read_text()))


def run_on(workers: int, job: str, stack, topics_from, folder: Path, monkeypatch) -> float:
    """Seconds of `job`'s batches on a cluster of `workers` one-core workers, over the topics
    of `topics_from` into a lake of its own."""
    env = cluster_env(folder, **{"standalone.workers": workers, "standalone.cores_per_worker": 1,
                                 "standalone.gpus_per_worker": 0,
                                 "standalone.memory_per_worker": "2g"})  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = command_settings()
    cluster.up(settings, log=lambda message: None)
    try:
        run = topics_from.model_copy(update={"lake": topics_from.lake.model_copy(update={
            "checkpoint_root": str(folder / "checkpoints")})})  # fmt: skip
        if job == "bronze-ingest":  # its output is the lake: a lake of its own
            run = run.model_copy(update={"lake": run.lake.model_copy(update={
                "root": str(folder / "lake")})})  # fmt: skip
        log = folder / f"{job}.log"
        process = submit(job, run, log, "--available-now")
        try:
            assert process.wait(timeout=1800) == 0, log.read_text()[-3000:]
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        return batch_seconds(log)
    finally:
        cluster.down(settings, log=lambda message: None)


def test_frame_analysis_scales_with_workers(brand_champion, stack, tmp_path, monkeypatch):
    settings = isolated(stack, tmp_path, sample_media__seconds=SECONDS)
    video = generate(settings, tmp_path / "media", name="scaling")
    ingest(settings, DEMO_STREAM, ["-i", str(video)], transcode=False)
    rates = {}
    for workers in (1, 2):
        folder = tmp_path / f"workers-{workers}"
        folder.mkdir()
        started = time.monotonic()
        seconds = run_on(workers, "frame-analysis", stack, settings, folder, monkeypatch)
        frames = read_table(settings, "silver.segment_context").num_rows
        rates[workers] = frames / seconds
        print(f"\nframe_analysis on {workers} worker(s): {frames} frames in {seconds:.1f} s of "
              f"batches ({time.monotonic() - started:.0f} s with start-up): "
              f"{rates[workers]:.2f} frames/s")  # fmt: skip
        # the next run reads the same segments into a fresh silver layer
        for table in ("silver.detections", "silver.segment_context"):
            shutil.rmtree(settings.table_uri(table), ignore_errors=True)
    print(f"  two workers / one: {rates[2] / rates[1]:.2f}x (goal 1.7x)")


def test_bronze_ingest_scales_with_workers(stack, tmp_path, monkeypatch):
    settings = isolated(stack, tmp_path)
    sent = traffic(settings, RECORDS)
    rates = {}
    for workers in (1, 2):
        folder = tmp_path / f"workers-{workers}"
        folder.mkdir()
        seconds = run_on(workers, "bronze-ingest", stack, settings, folder, monkeypatch)
        rates[workers] = sum(map(len, sent.values())) / seconds
        print(f"\nbronze_ingest on {workers} worker(s): {RECORDS} records in {seconds:.1f} s of "
              f"batches: {rates[workers]:,.0f} records/s")  # fmt: skip
    print(f"  two workers / one: {rates[2] / rates[1]:.2f}x")
