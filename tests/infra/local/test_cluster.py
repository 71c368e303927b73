"""The cluster path on a real Spark standalone cluster on this machine: a master and two
workers started from pyspark's jars (`brandlake cluster up`), jobs sent with `brandlake
submit`, GPU scheduling through a discovery script that names a GPU this machine lacks, a
worker and a driver killed mid-batch, the broker restarted mid-stream."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from infra.local import cluster, services
from infra.local.services import ServiceError
from jobs.common.config import Settings
from jobs.entrypoint import command_settings
from jobs.maintenance.tables import checkpoint_queries
from schemas.tables import BRONZE_TABLES
from tests.support import (
    BRANDLAKE,
    DEMO_STREAM,
    DEMO_VIDEO_SECONDS,
    S3_BUCKET,
    cluster_env,
    committed_batch,
    isolated,
    read_table,
    submit,
    traffic,
    wait_for_batch,
)

PROBE = Path(__file__).with_name("gpu_probe.py")
VIEWER_EVENTS = BRONZE_TABLES["viewer_events"].name  # the table the fault tests watch


@contextmanager
def running_cluster(folder: Path, monkeypatch, **extra: object) -> Iterator[Settings]:
    """A standalone cluster configured by `cluster_env`; the settings that send jobs to it."""
    for key, value in cluster_env(folder, **extra).items():
        monkeypatch.setenv(key, value)
    settings = command_settings()
    cluster.up(settings, log=lambda message: None)
    try:
        yield command_settings()  # now with the master's URL
    finally:
        cluster.down(settings, log=lambda message: None)
    assert cluster.status(settings).status == "stopped"


@pytest.fixture
def standalone(stack: Settings, tmp_path: Path, monkeypatch) -> Iterator[Settings]:
    with running_cluster(tmp_path, monkeypatch) as settings:
        yield settings


def test_the_cluster_starts_resolves_and_stops(standalone: Settings):
    state = cluster.status(standalone)
    assert state.status == "running" and state.alive_workers == 2
    assert standalone.spark.master == state.master_url
    assert state.master_url.startswith("spark://127.0.0.1:")
    options = standalone.spark.options
    assert options["spark.executor.cores"] == "2"
    assert options["spark.executor.resource.gpu.amount"] == "1"
    messages: list[str] = []
    cluster.up(standalone, log=messages.append)  # idempotent
    assert "already running" in messages[0] and cluster.status(standalone).master_pid == (
        state.master_pid
    )


def test_tasks_that_share_a_gpu_get_its_address_in_the_udf(standalone: Settings, tmp_path):
    env = {**os.environ, "BRANDLAKE_SPARK__OPTIONS__SPARK.TASK.RESOURCE.GPU.AMOUNT": "0.5"}
    done = subprocess.run([sys.executable, str(PROBE)], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    tasks = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(t["partition"] for t in tasks) == list(range(8))
    assert {t["gpu"] for t in tasks} == {"0"}  # the address reached every pandas UDF
    executors = {t["executor"] for t in tasks}
    assert len(executors) == 2  # both workers ran tasks
    # At 0.5 GPU a task, two tasks of one executor ran at once on its one GPU.
    overlapping = [
        (a["partition"], b["partition"])
        for a in tasks for b in tasks
        if a["executor"] == b["executor"] and a["partition"] < b["partition"]
        and a["start"] < b["end"] and b["start"] < a["end"]
    ]  # fmt: skip
    assert overlapping


def assert_every_valid_event_once(settings: Settings, sent: dict[str, list[bytes]]) -> None:
    names = {settings.kafka.topics[topic].name for topic in sent}
    quarantined = len({  # records, once each: a later job may quarantine one again
        (r["kafka_topic"], r["kafka_partition"], r["kafka_offset"])
        for r in read_table(settings, "bronze.quarantine").to_pylist() if r["kafka_topic"] in names
    })  # fmt: skip
    landed = 0
    for topic in sent:
        ids = read_table(settings, BRONZE_TABLES[topic].name).column("event_id").to_pylist()
        assert len(ids) == len(set(ids)), f"{topic}: an event twice"
        landed += len(ids)
    assert landed + quarantined == sum(map(len, sent.values()))
    assert quarantined > 0


def test_bronze_ingest_submitted_to_the_cluster_lands_every_event_once(
    standalone: Settings, isolated_settings, tmp_path
):
    settings = isolated_settings()
    sent = traffic(settings, 6000)
    process = submit("bronze-ingest", settings, tmp_path / "submit.log", "--available-now")
    assert process.wait(timeout=600) == 0, (tmp_path / "submit.log").read_text()[-3000:]
    log = (tmp_path / "submit.log").read_text()
    assert "bronze_ingest batch 0" in log and standalone.spark.master in log
    assert_every_valid_event_once(settings, sent)


def ingest_past_its_first_batch(settings: Settings, log: Path) -> subprocess.Popen:
    """`brandlake submit bronze-ingest --available-now`, returned once its first batch is
    committed and while it still runs (the moment the fault tests strike)."""
    process = submit("bronze-ingest", settings, log, "--available-now")
    wait_for_batch(settings, VIEWER_EVENTS, 0, process, log, timeout_s=300)
    return process


def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(
    standalone: Settings, isolated_settings, tmp_path
):
    settings = isolated_settings(kafka__max_offsets_per_trigger=5000)
    sent = traffic(settings, 40_000)
    process = ingest_past_its_first_batch(settings, tmp_path / "submit.log")
    time.sleep(1.0)  # into the next batch
    cluster.stop_worker(standalone, 0, signal.SIGKILL)
    assert process.wait(timeout=600) == 0, (tmp_path / "submit.log").read_text()[-3000:]
    assert committed_batch(settings, VIEWER_EVENTS) >= 2
    assert cluster.status(standalone).status == "degraded"
    assert_every_valid_event_once(settings, sent)


def test_a_driver_killed_mid_batch_and_resubmitted_continues_from_its_checkpoint(
    standalone: Settings, isolated_settings, tmp_path
):
    settings = isolated_settings(kafka__max_offsets_per_trigger=5000)
    sent = traffic(settings, 40_000)
    first = ingest_past_its_first_batch(settings, tmp_path / "first.log")
    os.killpg(first.pid, signal.SIGKILL)  # the driver (spark-submit and its JVM) mid-run
    first.wait(timeout=60)
    killed_at = committed_batch(settings, VIEWER_EVENTS)
    second = submit("bronze-ingest", settings, tmp_path / "second.log", "--available-now")
    assert second.wait(timeout=600) == 0, (tmp_path / "second.log").read_text()[-3000:]
    assert committed_batch(settings, VIEWER_EVENTS) > killed_at
    assert_every_valid_event_once(settings, sent)


def test_a_broker_restarted_mid_stream_loses_and_doubles_nothing(
    standalone: Settings, stack: Settings, isolated_settings, tmp_path
):
    settings = isolated_settings(kafka__max_offsets_per_trigger=5000)
    sent = traffic(settings, 40_000)
    process = ingest_past_its_first_batch(settings, tmp_path / "submit.log")
    state = services.restart(stack, "broker", log=lambda message: None)  # topics on its disk
    assert state.status == "running" and state.address == stack.kafka.bootstrap_servers
    assert process.wait(timeout=600) == 0, (tmp_path / "submit.log").read_text()[-3000:]
    assert committed_batch(settings, VIEWER_EVENTS) >= 2
    assert_every_valid_event_once(settings, sent)


def test_without_a_cluster_the_errors_say_what_to_run(stack: Settings, tmp_path, monkeypatch):
    monkeypatch.setenv("BRANDLAKE_SPARK__MASTER", "standalone")
    settings = command_settings()
    assert settings.spark.master == "standalone"  # nothing to resolve it to
    from jobs.common.spark import build_session

    with pytest.raises(RuntimeError, match="brandlake cluster up"):
        build_session(settings)
    done = subprocess.run([BRANDLAKE, "submit", "bronze-ingest", "--dry-run"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1 and "brandlake cluster up" in done.stderr
    monkeypatch.setenv("BRANDLAKE_STANDALONE__GPUS_PER_WORKER", "1")
    monkeypatch.setenv("BRANDLAKE_STANDALONE__GPU_DISCOVERY_SCRIPT", str(tmp_path / "none.sh"))
    with pytest.raises(ServiceError, match=r"standalone\.gpu_discovery_script"):
        cluster.up(command_settings(), log=lambda message: None)
    monkeypatch.setenv("BRANDLAKE_SPARK__MASTER", "spark://127.0.0.1:9")  # nothing listens
    with pytest.raises(RuntimeError, match=r"spark://127.0.0.1:9 cannot be reached.*spark\.master"):
        build_session(command_settings())


def test_executors_asking_for_more_gpus_than_workers_offer_fail_at_once(
    standalone: Settings, monkeypatch
):
    monkeypatch.setenv("BRANDLAKE_SPARK__OPTIONS__SPARK.EXECUTOR.RESOURCE.GPU.AMOUNT", "2")
    with pytest.raises(ServiceError, match=r"workers offer 1: set standalone\.gpus_per_worker"):
        command_settings()
    monkeypatch.delenv("BRANDLAKE_SPARK__OPTIONS__SPARK.EXECUTOR.RESOURCE.GPU.AMOUNT")
    key = "BRANDLAKE_JOBS__FRAME_ANALYSIS__SPARK_OPTIONS__SPARK.EXECUTOR.RESOURCE.GPU.AMOUNT"
    monkeypatch.setenv(key, "2")  # one job's executors ask for them
    with pytest.raises(ServiceError, match=r"jobs\.frame_analysis\.spark_options asks for 2"):
        command_settings()


def test_submit_dry_run_prints_the_command(stack: Settings):
    done = subprocess.run(
        [BRANDLAKE, "submit", "frame-analysis", "--dry-run", "--available-now", "--set",
         "spark.master=spark://10.0.0.5:7077", "--set", "spark.python_env_archive=env.tar.gz"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert "bin/spark-submit --master spark://10.0.0.5:7077 --deploy-mode client" in line
    assert "--archives 'env.tar.gz#environment'" in line  # quoted: # starts a comment
    assert "spark.pyspark.python=./environment/bin/python" in line
    assert "spark-sql-kafka" in line and "delta-spark" in line and "--py-files" in line
    assert line.endswith(
        "jobs/spark_main.py frame-analysis --available-now --set "
        "spark.master=spark://10.0.0.5:7077 --set spark.python_env_archive=env.tar.gz"
    )


@pytest.mark.timeout(1800)
def test_the_pipeline_submitted_to_the_cluster_analyses_every_segment(
    brand_champion, stack, s3_endpoint, tmp_path, monkeypatch
):
    """Broadcast -> segments -> bronze, silver and gold, every job through `brandlake submit`
    on two 1-core workers without GPUs, with the lake, the landing area and the checkpoints on
    an S3 server; the executors fetch the champion themselves and read segments from S3."""
    from jobs.ingest.run import ingest
    from jobs.sample_media import generate

    one_core = {"standalone.cores_per_worker": 1, "standalone.gpus_per_worker": 0,
                "standalone.memory_per_worker": "2g"}  # fmt: skip
    with running_cluster(tmp_path, monkeypatch, **one_core):
        bucket = f"s3://{S3_BUCKET}/{tmp_path.name}"
        on_s3 = {"lake.root": f"{bucket}/lake", "lake.checkpoint_root": f"{bucket}/checkpoints",
                 "lake.storage_options": s3_endpoint}  # fmt: skip
        settings = isolated(stack, tmp_path, sample_media__seconds=DEMO_VIDEO_SECONDS, **on_s3)
        video = generate(settings, tmp_path / "media", name="cluster")
        ingest(settings, DEMO_STREAM, ["-i", str(video)], transcode=False)
        sent = traffic(settings, 3000)
        for job in ("bronze-ingest", "frame-analysis", "exposure-revenue"):
            log = tmp_path / f"{job}.log"
            process = submit(job, settings, log, "--available-now")
            assert process.wait(timeout=900) == 0, log.read_text()[-3000:]
        work = Path(settings.run_dir) / "cluster" / "work"
        executor_logs = work.glob("worker-*/app-*/*/stderr")
        fetched = [line for log in executor_logs for line in log.read_text().splitlines()
                   if "brandlake: brand-detector v" in line]  # fmt: skip
        segments = read_table(settings, "bronze.segments").column("uri").to_pylist()
    assert all(uri.startswith(f"{bucket}/lake/landing/") for uri in segments)
    # each job's streaming checkpoint is on S3, written by Spark's s3a
    assert len(checkpoint_queries(settings)) >= 3
    assert_every_valid_event_once(settings, sent)
    context = read_table(settings, "silver.segment_context").to_pylist()
    assert len(segments) >= DEMO_VIDEO_SECONDS / settings.ingest.segment_seconds
    assert len({row["segment_id"] for row in context}) == len(segments)  # every one analysed
    assert read_table(settings, "silver.detections").num_rows > 0
    assert read_table(settings, "gold.brand_exposure_minute").num_rows > 0
    # Each executor that analysed frames fetched the champion itself, into its own folder.
    assert fetched and all("fetched from" in x and "brandlake-models" in x for x in fetched)
