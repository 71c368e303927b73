"""Helpers for tests that talk to the real broker and read real Delta tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable

from jobs.common.config import Settings
from jobs.common.kafka import ensure_topics, producer
from jobs.entrypoint import command_settings

DEMO_STREAM = "arena-live"  # the catalog's first stream, which `brandlake demo` ingests
DEMO_VIDEO_SECONDS = 10


def produce(
    settings: Settings, topic_key: str, values: Iterable[bytes], partition: int | None = None
) -> int:
    """Send `values` to a configured topic and wait until the broker has them all."""
    out = producer(settings)
    topic = settings.kafka.topics[topic_key].name
    count = 0
    for value in values:
        kwargs = {"partition": partition} if partition is not None else {}
        out.produce(topic, value=value, key=str(count).encode(), **kwargs)
        count += 1
        if count % 10_000 == 0:
            out.poll(0)
    assert out.flush(30) == 0
    return count


def isolated(stack: Settings, folder: Path, **overrides: object) -> Settings:
    """Settings with their own topics (created), lake and checkpoints under `folder`; extra
    overrides as keyword arguments (`exposure__allowed_lateness_s=120`)."""
    suffix = uuid.uuid4().hex[:8]
    values: dict[str, object] = {
        "lake.root": str(folder / "lake"),
        "lake.checkpoint_root": str(folder / "checkpoints"),
    }
    for key in stack.kafka.topics:
        values[f"kafka.topics.{key}.name"] = f"{key}-{suffix}"
    values.update({k.replace("__", "."): v for k, v in overrides.items()})
    settings = command_settings(values)
    ensure_topics(settings)
    return settings


def set_args(settings: Settings) -> list[str]:
    """--set options that give a subcommand the test's own topics and lake."""
    pairs = {
        "lake.root": settings.lake.root,
        **{f"kafka.topics.{k}.name": t.name for k, t in settings.kafka.topics.items()},
    }
    return [arg for key, value in pairs.items() for arg in ("--set", f"{key}={value}")]


def read_table(settings: Settings, name: str) -> pa.Table:
    options = settings.lake.storage_options or None
    delta = DeltaTable(settings.table_uri(name), storage_options=options)
    return pa.table(delta.to_pyarrow_dataset().to_table())


def job_env(job: str | None, settings: Settings) -> dict[str, str]:
    """The environment that gives a job subprocess (a streaming job, or None: another command)
    this test's lake, checkpoints and topics."""
    env = dict(os.environ)
    env["BRANDLAKE_LAKE__ROOT"] = settings.lake.root
    env["BRANDLAKE_LAKE__CHECKPOINT_ROOT"] = settings.lake.checkpoint_root
    for key, value in settings.lake.storage_options.items():
        env[f"BRANDLAKE_LAKE__STORAGE_OPTIONS__{key.upper()}"] = value
    env["BRANDLAKE_KAFKA__MAX_OFFSETS_PER_TRIGGER"] = str(settings.kafka.max_offsets_per_trigger)
    if job:
        env[f"BRANDLAKE_JOBS__{job.upper()}__TRIGGER_INTERVAL"] = "1 seconds"
    for key, topic in settings.kafka.topics.items():
        env[f"BRANDLAKE_KAFKA__TOPICS__{key.upper()}__NAME"] = topic.name
    return env


def start_job(
    job: str, settings: Settings, log_path, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """`python -m jobs.<job>` as its own process group (so SIGKILL takes its JVM and workers);
    `env` adds configuration overrides (BRANDLAKE_...)."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", f"jobs.{job}", *args],
            env={**job_env(job, settings), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def batch_commits(settings: Settings, name: str) -> dict[int, float]:
    """Micro-batch id -> commit time (epoch seconds) of each commit of a table that carries an
    app transaction, from its Delta log (either writer records the batch id there)."""
    log = Path(settings.table_uri(name)) / "_delta_log"
    commits: dict[int, float] = {}
    for path in sorted(log.glob("*.json")) if log.exists() else []:
        actions = [json.loads(line) for line in path.read_text().splitlines() if line]
        txn = [a["txn"]["version"] for a in actions if "txn" in a]
        stamp = [a["commitInfo"]["timestamp"] for a in actions if "commitInfo" in a]
        if txn:
            commits[txn[0]] = (stamp[0] if stamp else path.stat().st_mtime * 1000) / 1000
    return commits


def committed_batch(settings: Settings, name: str) -> int:
    """The newest micro-batch id committed to a table (-1: none, or no table yet)."""
    return max(batch_commits(settings, name), default=-1)


def wait_for_batch(
    settings: Settings,
    name: str,
    batch_id: int,
    job: subprocess.Popen,
    log_path: Path,
    timeout_s: float,
) -> None:
    """Return once table `name` holds micro-batch `batch_id` of `job`; fail with the job's log
    when it exits first, or when `timeout_s` pass (the moment kill tests strike)."""
    deadline = time.monotonic() + timeout_s
    while committed_batch(settings, name) < batch_id:
        assert job.poll() is None, Path(log_path).read_text()[-3000:]
        assert time.monotonic() < deadline, f"{name}: no batch {batch_id} in {timeout_s:.0f} s"
        time.sleep(0.02)


BRANDLAKE = str(Path(sys.executable).with_name("brandlake"))
FAKE_GPUS = '#!/bin/sh\necho \'{"name": "gpu", "addresses": ["0"]}\'\n'  # a GPU, for Spark


def cluster_env(folder: Path, **extra: object) -> dict[str, str]:
    """Configuration of a standalone cluster (as BRANDLAKE_* variables, so `brandlake submit`,
    its driver and a probe all see it): two workers of 2 cores that each offer one fake GPU,
    unless `extra` (dotted keys) says otherwise."""
    script = folder / "fake-gpus.sh"
    script.write_text(FAKE_GPUS)
    script.chmod(0o755)
    values = {
        "spark.master": "standalone",
        "standalone.workers": 2,
        "standalone.cores_per_worker": 2,
        "standalone.memory_per_worker": "1g",
        "standalone.gpus_per_worker": 1,
        "standalone.gpu_discovery_script": str(script),
        **extra,
    }
    return {"BRANDLAKE_" + k.upper().replace(".", "__"): str(v) for k, v in values.items()}


def submit(job: str, settings: Settings, log_path: Path, *args: str) -> subprocess.Popen:
    """`brandlake submit JOB` as its own process group, with this test's lake and topics."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [BRANDLAKE, "submit", job, *args], env=job_env(job.replace("-", "_"), settings),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def traffic(settings: Settings, count: int) -> dict[str, list[bytes]]:
    """`count` simulated records (1 % malformed) sent to the settings' topics, by topic."""
    from jobs.simulate import simulator

    records = simulator(settings, rate_per_s=0, seed=11, bad_ratio=0.01)
    by_topic: dict[str, list[bytes]] = {}
    for record, _ in zip(records, range(count), strict=False):
        by_topic.setdefault(record.topic, []).append(record.value)
    for topic, values in by_topic.items():
        produce(settings, topic, values)
    return by_topic


S3_BUCKET = "brandlake-test"


@contextmanager
def s3_server(log_path: Path) -> Iterator[dict[str, str]]:
    """A real S3 API server (moto's server mode) on a free loopback port, holding an empty
    bucket `S3_BUCKET`; yields the `lake.storage_options` that reach it, stops it after."""
    import pyarrow.fs as pafs

    from infra.local.services import free_port, terminate

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    options = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "brandlake",
        "AWS_SECRET_ACCESS_KEY": "brandlake-secret",
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
    }
    with open(log_path, "ab") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        store = pafs.S3FileSystem(
            endpoint_override=endpoint, scheme="http", access_key=options["AWS_ACCESS_KEY_ID"],
            secret_key=options["AWS_SECRET_ACCESS_KEY"], region="us-east-1",
            allow_bucket_creation=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                store.create_dir(S3_BUCKET)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    started = log_path.read_text()
                    raise RuntimeError(f"the S3 server did not start: {started}") from None
                time.sleep(0.2)
        yield options
    finally:
        terminate(server.pid)


def topic_values(settings, key: str) -> list[bytes]:
    """Every value on a configured topic, from its beginning to its end now."""
    from confluent_kafka import Consumer, TopicPartition

    from jobs.common.kafka import client_config, watermarks

    consumer = Consumer(client_config(settings, **{"group.id": "t", "enable.auto.commit": False}))
    topic = settings.kafka.topics[key].name
    partitions = range(settings.kafka.topics[key].partitions)
    ends = watermarks(consumer, [(topic, p) for p in partitions], 10)
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    values, wanted = [], sum(end - begin for begin, end in ends.values())
    while len(values) < wanted:
        message = consumer.poll(10)
        assert message is not None, f"{len(values)} of {wanted} messages of {topic} arrived"
        values.append(message.value())
    consumer.close()
    return values


def segment_event(stream: str, sequence: int, path: str, start: datetime) -> bytes:
    """A `segments` event of a segment file, as ingest announces it."""
    return json.dumps(
        {
            "event_id": f"{stream}-{sequence}", "stream_id": stream, "sequence": sequence,
            "uri": Path(path).as_uri(), "start_time": start.isoformat(), "duration_s": 2.0,
            "width": 320, "height": 240, "fps": 25.0, "codec": "h264",
            "bytes": Path(path).stat().st_size if Path(path).exists() else 1,
        }
    ).encode()  # fmt: skip


def test_the_segment_before_and_the_frame_on_screen_when_a_name_is_said():
    from jobs.frame_analysis import frame_at, previous_segment
    from udfs.analysis.segment import FrameContext

    landing = "s3://lake/landing/arena/seg_000012.ts"
    assert previous_segment({"uri": landing, "sequence": 12}).endswith("arena/seg_000011.ts")
    assert previous_segment({"uri": "file:///l/seg_000000.ts", "sequence": 0}) is None
    assert previous_segment({"uri": "file:///l/other.ts", "sequence": 3}) is None  # not ingest's
    frames = [FrameContext(i, i / 30, 0, 0, 0.5, 0.0, None, {}, None, None) for i in (0, 15, 30)]
    assert [frame_at(frames, t).frame_index for t in (-0.4, 0.0, 0.6, 1.9)] == [0, 0, 15, 30]
