"""The data_quality and lakehouse_maintenance DAGs with `dag.test()` on a copy of the lake the
real jobs made (`brandlake demo`), clean and with planted violations."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import time
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from jobs.common.config import Settings
from jobs.common.lake import ALL_TABLES, open_table
from jobs.maintenance.tables import RetentionError
from jobs.quality.run import DataQualityError, run_quality
from jobs.simulate import simulator
from tests.dags.conftest import run_dag
from tests.support import DEMO_STREAM, committed_batch, produce, read_table, start_job

pytestmark = [pytest.mark.spark, pytest.mark.services, pytest.mark.timeout(900)]


@pytest.fixture
def lake(demo_lake, tmp_path) -> Settings:
    """The demo's lake and checkpoints, copied: these tests change them."""
    demo, _, _ = demo_lake
    shutil.copytree(demo.lake.root, tmp_path / "lake")
    shutil.copytree(demo.lake.checkpoint_root, tmp_path / "checkpoints")
    conf = demo.lake.model_copy(
        update={"root": str(tmp_path / "lake"), "checkpoint_root": str(tmp_path / "checkpoints")}
    )
    return demo.model_copy(update={"lake": conf})


def lake_env(settings: Settings, **overrides: str) -> dict[str, str]:
    return {
        "BRANDLAKE_LAKE__ROOT": settings.lake.root,
        "BRANDLAKE_LAKE__CHECKPOINT_ROOT": settings.lake.checkpoint_root,
        **{f"BRANDLAKE_{k.upper()}": v for k, v in overrides.items()},
    }


def results(settings: Settings) -> list[dict]:
    return read_table(settings, "ops.data_quality_results").to_pylist()


def append_copy(settings: Settings, name: str, row: dict, **changes) -> None:
    """Append `row` with `changes` to table `name`."""
    spec = next(t for t in ALL_TABLES if t.name == name)
    rows = pa.Table.from_pylist([{**row, **changes}], spec.schema)
    write_deltalake(settings.table_uri(name), rows, mode="append")


# -- data quality -------------------------------------------------------------------------------


def test_data_quality_passes_on_the_clean_lake(dag_bag, lake, monkeypatch):
    started = time.monotonic()
    run = run_dag(dag_bag, "data_quality", lake_env(lake), monkeypatch)
    print(f"\ndata_quality DAG on the demo lake: {time.monotonic() - started:.1f} s")
    assert run.state == "success"
    rows = results(lake)
    assert rows and all(r["success"] for r in rows), [r for r in rows if not r["success"]]
    checked = {r["table_name"] for r in rows}
    assert set(lake.data_quality.required_tables) <= checked
    assert any(r["suite"].endswith("share of voice per stream-minute") for r in rows)


def test_planted_violations_fail_naming_table_expectation_and_rows(dag_bag, lake, monkeypatch):
    impression = read_table(lake, "bronze.impressions").slice(0, 1).to_pylist()[0]
    append_copy(lake, "bronze.impressions", impression)  # the same event_id twice
    exposure = read_table(lake, "gold.brand_exposure_minute").slice(0, 1).to_pylist()[0]
    append_copy(lake, "gold.brand_exposure_minute", exposure, share_of_voice=1.5,
                minute=exposure["minute"] + timedelta(minutes=1))  # fmt: skip
    segment = max(read_table(lake, "bronze.segments").to_pylist(), key=lambda r: r["start_time"])
    append_copy(lake, "bronze.segments", segment, event_id=segment["event_id"] + "-late",
                start_time=segment["start_time"] + timedelta(minutes=30))  # fmt: skip

    with pytest.raises(DataQualityError) as failed:
        run_quality(lake, docs=False)
    text = str(failed.value)
    print(f"\n{text}")
    assert "bronze.impressions: expect_column_values_to_be_unique(event_id)" in text
    assert impression["event_id"] in text
    assert "gold.brand_exposure_minute: expect_column_values_to_be_between(share_of_voice)" in text
    assert "share of voice per stream-minute" in text
    assert "silver.segment_context: fresh per stream" in text and DEMO_STREAM in text

    run = run_dag(dag_bag, "data_quality", lake_env(lake), monkeypatch)
    assert run.state == "failed"
    failed_rows = [r for r in results(lake) if not r["success"]]
    assert {r["table_name"] for r in failed_rows} >= {
        "bronze.impressions", "gold.brand_exposure_minute", "silver.segment_context"}  # fmt: skip


def test_a_required_table_that_is_missing_fails_with_what_to_do(lake):
    shutil.rmtree(lake.table_uri("gold.revenue_minute"))
    with pytest.raises(
        DataQualityError, match=r"gold.revenue_minute does not exist at .* run the job"
    ):
        run_quality(lake, docs=False)


# -- maintenance --------------------------------------------------------------------------------


def parquet_files(settings: Settings) -> int:
    return sum(1 for _ in Path(settings.lake.root).rglob("*.parquet"))


def snapshot(settings: Settings) -> dict[str, tuple[int, int]]:
    """{table: (rows, active files)} of every table."""
    found = {}
    for table in ALL_TABLES:
        delta = open_table(settings, table.name)
        if delta is not None and not table.name.startswith("ops."):
            found[table.name] = (delta.to_pyarrow_table().num_rows, len(delta.file_uris()))
    return found


def old_partition_files(settings: Settings) -> int:
    """Active files of bronze.impressions in partitions older than the newest."""
    actions = pa.table(open_table(settings, "bronze.impressions").get_add_actions(flatten=True))
    dates = actions.column("partition.event_date").to_pylist()
    return sum(d < max(dates) for d in dates)


def plant_old_partition(settings: Settings, days: int = 5, files: int = 3) -> None:
    """Small files in a bronze.impressions partition `days` before the newest: what a day of
    streaming leaves behind once its job's own compaction (recent partitions) has moved on."""
    rows = read_table(settings, "bronze.impressions").slice(0, files).to_pylist()
    for n, row in enumerate(rows):
        old = row["event_date"] - timedelta(days=days)
        append_copy(settings, "bronze.impressions", row, event_id=f"old-{n}", event_date=old,
                    event_time=row["event_time"] - timedelta(days=days))  # fmt: skip


def test_a_retention_below_the_jobs_needs_is_refused_before_anything_changes(lake):
    from jobs.maintenance.run import maintain_tables

    before, files = snapshot(lake), parquet_files(lake)
    versions = {t: open_table(lake, t).version() for t in before}
    short = lake.model_copy(
        update={"maintenance": lake.maintenance.model_copy(update={"vacuum_retention_hours": 0})}
    )
    with pytest.raises(RetentionError, match=r"last batch .* committed to .* Set it to at least"):
        maintain_tables(short)
    assert snapshot(lake) == before and parquet_files(lake) == files
    assert {t: open_table(lake, t).version() for t in before} == versions


def test_maintenance_compacts_keeps_every_row_and_a_running_job_continues(
    dag_bag, lake, monkeypatch, tmp_path
):
    plant_old_partition(lake)
    assert old_partition_files(lake) == 3
    before = snapshot(lake)
    events = list(itertools.islice(simulator(lake, seed=31), 4000))
    impressions = [r for r in events if r.topic == "impressions"]
    job = start_job("bronze_ingest", lake, tmp_path / "bronze_ingest.log")
    try:
        first = committed_batch(lake, "bronze.impressions")
        produce(lake, "impressions", (r.value for r in impressions[: len(impressions) // 2]))
        wait_for_batch(lake, job, first, tmp_path)

        started = time.monotonic()
        # the demo's stream has ended: a short landing retention removes its segments
        landing = Path(lake.landing_uri(DEMO_STREAM))
        assert list(landing.glob("seg_*.ts"))
        env = lake_env(
            lake, maintenance__vacuum_retention_hours="2", ingest__retention_hours="0.001"
        )
        run = run_dag(dag_bag, "lakehouse_maintenance", env, monkeypatch)
        print(f"\nlakehouse_maintenance DAG on the demo lake: {time.monotonic() - started:.1f} s")
        assert run.state == "success"

        middle = committed_batch(lake, "bronze.impressions")
        produce(lake, "impressions", (r.value for r in impressions[len(impressions) // 2 :]))
        wait_for_batch(lake, job, middle, tmp_path)
        assert job.poll() is None, "bronze_ingest stopped after maintenance"
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait(30)

    after = snapshot(lake)
    ids = read_table(lake, "bronze.impressions").column("event_id").to_pylist()
    sent = {json.loads(r.value)["event_id"] for r in impressions}
    assert len(ids) == len(set(ids)) and sent <= set(ids)
    assert len(ids) == before["bronze.impressions"][0] + len(sent)
    for name, (rows, _) in before.items():
        if name != "bronze.impressions":
            assert after[name][0] == rows, name
    assert old_partition_files(lake) == 1  # the three small files planted, compacted
    stats = read_table(lake, "ops.table_stats").to_pylist()
    assert {r["table_name"] for r in stats} >= set(before)
    assert not landing.exists()  # ended and wholly past the retention: segments and playlist


def wait_for_batch(settings: Settings, job, after: int, tmp_path, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while committed_batch(settings, "bronze.impressions") <= after:
        assert job.poll() is None, (tmp_path / "bronze_ingest.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "bronze_ingest committed nothing"
        time.sleep(0.2)


def test_vacuum_deletes_the_files_compaction_replaced_when_no_job_needs_them(lake):
    from jobs.maintenance.run import maintain_tables

    shutil.rmtree(lake.lake.checkpoint_root)  # no streaming job to keep files for
    plant_old_partition(lake)
    before = snapshot(lake)
    keep_all = lake.model_copy(
        update={"maintenance": lake.maintenance.model_copy(update={"vacuum_retention_hours": 2})}
    )
    maintain_tables(keep_all)  # compacts; the replaced files are younger than 2 h: kept
    on_disk = parquet_files(lake)
    none = lake.model_copy(
        update={"maintenance": lake.maintenance.model_copy(update={"vacuum_retention_hours": 0})}
    )
    stats = maintain_tables(none)
    assert sum(r["files_vacuumed"] for r in stats) > 0
    assert parquet_files(lake) < on_disk
    assert {t: rows for t, (rows, _) in snapshot(lake).items()} == {
        t: rows for t, (rows, _) in before.items()
    }
