"""Exactly-once: SIGKILL bronze_ingest mid-stream, restart it from its checkpoint, count rows.

The job runs as its own process group (driver, JVM and Python workers), killed with SIGKILL the
moment one table holds a micro-batch that the others do not have yet: the crash lands between
the Delta commits of one batch. The restart must replay that batch into the tables that missed
it, skip it in the ones that had it, and go on: every event exactly once.
"""

from __future__ import annotations

import itertools
import json
import os
import signal

import pytest

from jobs.simulate import TOPICS as SIMULATED
from jobs.simulate import simulator
from tests.support import committed_batch, produce, read_table, start_job, wait_for_batch

pytestmark = [pytest.mark.spark, pytest.mark.services, pytest.mark.slow]
EVENTS = 60_000


def test_kill_mid_batch_and_restart_writes_every_event_once(isolated_settings, tmp_path):
    settings = isolated_settings(kafka__max_offsets_per_trigger=6000)
    records = list(itertools.islice(simulator(settings, bad_ratio=0.01, seed=21), EVENTS))
    for key in SIMULATED:
        produce(settings, key, (r.value for r in records if r.topic == key))
    log_path = tmp_path / "bronze_ingest.log"

    job = start_job("bronze_ingest", settings, log_path)
    try:
        # Tables are written in order (segments, impressions, viewer_events, auctions,
        # quarantine): kill when impressions holds batch 2 and viewer_events does not.
        wait_for_batch(settings, "bronze.impressions", 2, job, log_path, timeout_s=240)
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait(30)
    at_kill = {
        name: committed_batch(settings, name)
        for name in ("bronze.impressions", "bronze.viewer_events")
    }
    rows_at_kill = read_table(settings, "bronze.viewer_events").num_rows
    expected_viewer = sum(1 for r in records if r.topic == "viewer_events" and not r.bad_kind)
    assert rows_at_kill < expected_viewer, "the job finished before it was killed"

    restarted = start_job("bronze_ingest", settings, log_path, "--available-now")
    assert restarted.wait(300) == 0, log_path.read_text()[-3000:]

    for key in SIMULATED:
        expected = {
            json.loads(r.value)["event_id"] for r in records if r.topic == key and not r.bad_kind
        }
        ids = read_table(settings, f"bronze.{key}").column("event_id").to_pylist()
        assert len(ids) == len(set(ids)), f"{key}: {len(ids) - len(set(ids))} rows written twice"
        assert set(ids) == expected, f"{key}: {len(expected - set(ids))} events lost"
    quarantine = read_table(settings, "bronze.quarantine").select(
        ["kafka_topic", "kafka_partition", "kafka_offset"]
    )
    coordinates = [tuple(row.values()) for row in quarantine.to_pylist()]
    assert len(coordinates) == len(set(coordinates)) == sum(1 for r in records if r.bad_kind)
    if at_kill["bronze.impressions"] > at_kill["bronze.viewer_events"]:
        # The crash split a batch: the restart must have skipped the table that had it.
        assert "bronze.impressions already written" in log_path.read_text()
    print(f"committed batches at kill: {at_kill}; log: {log_path}")
