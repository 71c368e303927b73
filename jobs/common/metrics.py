"""Prometheus metrics of brandlake's long-running processes, each on a port of its own.

A process (a streaming job, ingest, the dashboard's media server) calls `serve(settings, name)`
once: its metrics are then on `http://<metrics.host>:<port>/metrics` (`metrics.port`; 0, the
default on one machine, takes a free port). Where Prometheus finds them: a file per process in
`<run_dir>/metrics/<name>.json` in Prometheus' file service discovery format, which
`infra/monitoring/prometheus.yml` reads (`file_sd_configs`), removed when the process ends. On
Kubernetes the pods expose a fixed `metrics.port` instead (conf/cluster.yaml).

The metrics, by who records them (names and labels are what the dashboards and alert rules in
`infra/monitoring/` query):

- every streaming job, per micro-batch (`jobs/common/streaming.py`): `brandlake_batch_seconds`
  (histogram), `brandlake_batch_phase_seconds_total` (where the time went: tasks, commits,
  recompute, ...), `brandlake_rows_written_total` per table (`bronze.quarantine` among them),
  `brandlake_input_records_total`, `brandlake_last_batch_timestamp_seconds` and
  `brandlake_input_lag_records` per topic (the Kafka offsets a batch had not read yet, from the
  query's progress);
- frame_analysis: `brandlake_frames_analysed_total` per stream (segments it could not decode
  are rows of `bronze.quarantine`), `brandlake_model_seconds_total` per model (person, brand,
  scene, safety: their calls' wall time in the executors' tasks, summed by an accumulator);
- ingest, per stream: `brandlake_segments_announced_total`, `brandlake_segments_unreadable_total`,
  `brandlake_ffmpeg_starts_total` (a second start is a restart), `brandlake_ingest_free_bytes`;
- the media server: `brandlake_media_requests_total` per kind and status.

A Kafka or Redis error ends a job's batch and the job (its supervisor restarts it): the alert on
a job that stopped committing covers them.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import time
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from jobs.common.config import Settings

log = logging.getLogger("brandlake.metrics")

BATCH_SECONDS = Histogram(
    "brandlake_batch_seconds", "Micro-batch wall time.", ["job"],
    buckets=(0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300),
)  # fmt: skip
BATCH_PHASE_SECONDS = Counter(
    "brandlake_batch_phase_seconds", "Micro-batch time by phase.", ["job", "phase"]
)
ROWS_WRITTEN = Counter("brandlake_rows_written", "Rows committed, per table.", ["job", "table"])
INPUT_RECORDS = Counter("brandlake_input_records", "Kafka records a job read.", ["job"])
LAST_BATCH = Gauge(
    "brandlake_last_batch_timestamp_seconds", "When a job last finished a micro-batch.", ["job"]
)
INPUT_LAG = Gauge(
    "brandlake_input_lag_records",
    "Kafka records of a topic not read yet (latest minus processed offsets).",
    ["job", "topic"],
)
FRAMES = Counter("brandlake_frames_analysed", "Frames frame_analysis analysed.", ["stream"])
MODEL_SECONDS = Counter(
    "brandlake_model_seconds", "frame_analysis' model time on the executors.", ["model"]
)
SEGMENTS_ANNOUNCED = Counter(
    "brandlake_segments_announced", "Segments ingest announced.", ["stream"]
)
SEGMENTS_UNREADABLE = Counter(
    "brandlake_segments_unreadable", "Finished segments no decoder could read.", ["stream"]
)
FFMPEG_STARTS = Counter("brandlake_ffmpeg_starts", "ffmpeg processes ingest started.", ["stream"])
FREE_BYTES = Gauge("brandlake_ingest_free_bytes", "Free disk under the landing area.", ["stream"])
MEDIA_REQUESTS = Counter(
    "brandlake_media_requests", "Requests the media server answered.", ["kind", "status"]
)


_serving: int | None = None  # this process's metrics port, once serving
_progress_seen: dict[str, int] = {}  # per query run, the last batch whose progress was recorded


def serve(settings: Settings, name: str) -> int | None:
    """Expose this process's metrics (see above) and register it for discovery; returns the
    port, or None when `metrics.enabled` is false. A port in use is logged, not fatal: the
    process's work matters more than its metrics."""
    global _serving
    conf = settings.metrics
    if not conf.enabled:
        return None
    if _serving is not None:  # several jobs in one process (the demo): one endpoint for all
        log.info("%s: metrics on the process's endpoint (port %d)", name, _serving)
        return _serving
    try:
        server, _ = start_http_server(conf.port, addr=conf.host)
    except OSError as failed:
        log.warning("%s: no metrics endpoint on %s:%d (%s)", name, conf.host, conf.port, failed)
        return None
    port = _serving = server.server_port
    target = discovery_file(settings, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    entry = [{"targets": [f"{conf.host}:{port}"], "labels": {"process": name,
              "pid": str(os.getpid())}}]  # fmt: skip
    target.write_text(json.dumps(entry))
    atexit.register(_forget, target, os.getpid())
    log.info("%s: metrics on http://%s:%d/metrics", name, conf.host, port)
    return port


def discovery_file(settings: Settings, name: str) -> Path:
    return Path(settings.run_dir) / "metrics" / f"{name}.json"


def _forget(target: Path, pid: int) -> None:
    """Remove the discovery entry if it is still this process's (a restart may own it now)."""
    with contextlib.suppress(OSError, ValueError, KeyError, IndexError):
        if json.loads(target.read_text())[0]["labels"]["pid"] == str(pid):
            target.unlink()


def record_batch(job: str, seconds: float, phases: dict[str, float], results: list) -> None:
    """One micro-batch's time, its phases and the rows each table got."""
    BATCH_SECONDS.labels(job).observe(seconds)
    for phase, spent in phases.items():
        BATCH_PHASE_SECONDS.labels(job, phase).inc(spent)
    for result in results:
        if not result.skipped:
            ROWS_WRITTEN.labels(job, result.table).inc(result.rows)
    LAST_BATCH.labels(job).set(time.time())


def record_progress(job: str, progress: dict | None) -> None:
    """Input records and lag per topic from a streaming query's last progress (its JSON as a
    dict): for each Kafka source, the latest offsets minus those the batch read to."""
    if not progress:
        return
    run, batch = progress.get("runId"), progress.get("batchId", -1)
    if batch <= _progress_seen.get(run, -1):
        return  # recorded already (at the next batch, or when the query ended)
    _progress_seen[run] = batch
    INPUT_RECORDS.labels(job).inc(progress.get("numInputRows") or 0)
    for source in progress.get("sources", []):
        latest, read_to = _offsets(source.get("latestOffset")), _offsets(source.get("endOffset"))
        for topic, partitions in latest.items():
            behind = sum(
                max(0, int(offset) - int(read_to.get(topic, {}).get(partition, 0)))
                for partition, offset in partitions.items()
            )
            INPUT_LAG.labels(job, topic).set(behind)


def _offsets(value) -> dict:
    """Kafka offsets as progress reports them: {topic: {partition: offset}} (or its JSON)."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    return value if isinstance(value, dict) else {}
