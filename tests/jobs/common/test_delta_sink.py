"""The Delta sink: idempotent per (query, batch), the same rows from either writer (delta-spark,
or executors' Parquet committed with delta-rs)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from jobs.common.delta_sink import DeltaSink, SchemaMismatchError
from schemas.tables import TIMESTAMP, TableSpec
from tests.support import read_table

pytestmark = pytest.mark.spark
WRITERS = pytest.mark.parametrize("writer", ["spark", "delta-rs"])

TABLE = TableSpec(
    name="test.events",
    schema=pa.schema(
        [
            ("event_id", pa.string()),
            ("score", pa.float64()),
            ("seen_at", TIMESTAMP),
            ("event_date", pa.date32()),
        ]
    ),
    partition_by=("event_date",),
)
SCHEMA = "event_id string, score double, seen_at timestamp, event_date date"


def batch(spark, ids, day=date(2026, 11, 22)):
    rows = [(f"e{i}", i / 2, datetime(2026, 11, 22, 10, i % 60, tzinfo=UTC), day) for i in ids]
    return spark.createDataFrame(rows, SCHEMA)


@WRITERS
def test_a_replayed_batch_is_written_once(isolated_settings, spark, writer):
    settings = isolated_settings(delta__writer=writer)
    sink = DeltaSink(settings)
    first = sink.write(batch(spark, range(100)), TABLE, "query-a", 0)
    replay = sink.write(batch(spark, range(100)), TABLE, "query-a", 0)
    second = sink.write(batch(spark, range(100, 150), date(2026, 11, 23)), TABLE, "query-a", 1)
    assert (first.rows, first.skipped) == (100, False)
    assert replay.skipped and not second.skipped
    table = read_table(settings, TABLE.name)
    assert sorted(table.column("event_id").to_pylist()) == sorted(f"e{i}" for i in range(150))
    delta = DeltaTable(settings.table_uri(TABLE.name))
    assert delta.transaction_version("query-a") == 1
    assert delta.metadata().partition_columns == ["event_date"]
    assert set(table.column("event_date").to_pylist()) == {date(2026, 11, 22), date(2026, 11, 23)}


@WRITERS
def test_compaction_every_n_batches_keeps_rows_and_skips_replays(isolated_settings, spark, writer):
    settings = isolated_settings(delta__compact_every_batches=3, delta__writer=writer)
    sink = DeltaSink(settings)
    files = []
    for batch_id in range(4):
        ids = range(10 * batch_id, 10 * batch_id + 10)
        sink.write(batch(spark, ids, date(2026, 11, 22 + batch_id % 2)), TABLE, "query-a", batch_id)
        sink.compact([TABLE], batch_id)
        files.append(len(DeltaTable(settings.table_uri(TABLE.name)).file_uris()))
    # files pile up (at least one per batch) until batch 3 compacts each day into one
    assert files[0] < files[1] < files[2] and files[2] >= 3 and files[3] == 2
    assert sink.write(batch(spark, range(99, 100)), TABLE, "query-a", 3).skipped
    table = read_table(settings, TABLE.name)
    assert sorted(table.column("event_id").to_pylist()) == sorted(f"e{i}" for i in range(40))


@WRITERS
def test_another_query_id_is_a_separate_transaction(isolated_settings, spark, writer):
    settings = isolated_settings(delta__writer=writer)
    sink = DeltaSink(settings)
    sink.write(batch(spark, range(10)), TABLE, "query-a", 5)
    result = sink.write(batch(spark, range(10, 20)), TABLE, "query-b", 0)
    assert not result.skipped
    assert read_table(settings, TABLE.name).num_rows == 20


def test_executor_files_carry_statistics_for_data_skipping(isolated_settings, spark):
    settings = isolated_settings(delta__writer="delta-rs")
    DeltaSink(settings).write(batch(spark, range(40)), TABLE, "q", 0)
    actions = DeltaTable(settings.table_uri(TABLE.name)).get_add_actions(flatten=True)
    assert sum(actions.column("num_records").to_pylist()) == 40
    assert min(actions.column("min.score").to_pylist()) == 0.0
    assert max(actions.column("max.score").to_pylist()) == 19.5
    assert all(
        p.startswith("event_date=2026-11-22/part-00000000-q-")
        for p in actions.column("path").to_pylist()
    )


@WRITERS
def test_an_empty_batch_is_recorded(isolated_settings, spark, writer):
    settings = isolated_settings(delta__writer=writer)
    result = DeltaSink(settings).write(batch(spark, []), TABLE, "q", 3)
    assert result.rows == 0
    assert DeltaTable(settings.table_uri(TABLE.name)).transaction_version("q") == 3


def test_schema_mismatch_names_the_columns(isolated_settings, spark):
    sink = DeltaSink(isolated_settings())
    wrong = batch(spark, range(3)).withColumnRenamed("score", "points")
    with pytest.raises(SchemaMismatchError, match="missing column score; unexpected column points"):
        sink.write(wrong, TABLE, "q", 0)
    frame = batch(spark, range(3))
    mistyped = frame.withColumn("score", frame.score.cast("string"))
    with pytest.raises(SchemaMismatchError, match="column score is string, the table has double"):
        sink.write(mistyped, TABLE, "q", 0)


@WRITERS
def test_a_table_created_with_other_columns_is_refused(isolated_settings, spark, writer):
    settings = isolated_settings(delta__writer=writer)
    DeltaTable.create(settings.table_uri(TABLE.name), schema=pa.schema([("event_id", pa.string())]))
    with pytest.raises(SchemaMismatchError, match="brandlake expects"):
        DeltaSink(settings).write(batch(spark, range(3)), TABLE, "q", 0)


def test_a_column_added_since_the_table_was_made_is_added_to_it(isolated_settings, spark):
    settings = isolated_settings()
    older = TableSpec(TABLE.name, TABLE.schema.remove(TABLE.schema.get_field_index("score")),
                      TABLE.partition_by)  # fmt: skip
    DeltaSink(settings).write(batch(spark, range(3)).drop("score"), older, "q", 0)
    grown = dataclasses.replace(TABLE, added_columns=("score",))
    DeltaSink(settings).write(batch(spark, range(3, 5)), grown, "q", 1)
    rows = {r["event_id"]: r["score"] for r in read_table(settings, TABLE.name).to_pylist()}
    assert len(rows) == 5
    assert sum(score is None for score in rows.values()) == 3  # written before it was added


def test_delta_spark_tables_read_the_same_in_delta_rs_polars_and_duckdb(isolated_settings, spark):
    """Tables delta-spark creates and writes use only what delta-rs reads (protocol 1/2, no
    table features), so the dashboard, `brandlake sql` and notebooks read them without Spark."""
    import duckdb
    import polars as pl

    settings = isolated_settings(delta__writer="spark")
    sink = DeltaSink(settings)
    sink.write(batch(spark, range(30)), TABLE, "q", 0)
    sink.write(batch(spark, range(30, 50), date(2026, 11, 23)), TABLE, "q", 1)
    uri = settings.table_uri(TABLE.name)
    by_spark = {r.event_id: r.score for r in spark.read.format("delta").load(uri).collect()}
    delta = DeltaTable(uri)
    assert (delta.protocol().min_reader_version, delta.protocol().min_writer_version) == (1, 2)
    by_delta_rs = dict(zip(*delta.to_pyarrow_table().select(["event_id", "score"]).to_pydict()
                           .values(), strict=True))  # fmt: skip
    by_polars = dict(pl.read_delta(uri).select("event_id", "score").iter_rows())
    dataset = delta.to_pyarrow_dataset()  # noqa: F841 (DuckDB reads it by name)
    by_duckdb = dict(duckdb.sql("select event_id, score from dataset").fetchall())
    assert len(by_spark) == 50
    assert by_spark == by_delta_rs == by_polars == by_duckdb


def test_a_job_and_maintenance_never_compact_the_same_partition(tmp_path):
    """The streaming job compacts partitions near the newest, maintenance the older ones, a day
    apart even when a new day starts between the two."""
    from deltalake import write_deltalake

    from jobs.common.delta_sink import older_partitions, recent_partitions

    uri = str(tmp_path / "t")
    days = [date(2026, 11, d) for d in range(20, 27)]
    for day in days:
        seen = datetime(2026, 11, 1, tzinfo=UTC)
        rows = pa.table({"event_id": ["e"], "score": [1.0], "seen_at": [seen], "event_date": [day]})
        write_deltalake(uri, rows.cast(TABLE.schema), partition_by=["event_date"], mode="append")
    delta = DeltaTable(uri)

    def chosen(filters) -> set[date]:
        _, op, value = filters[0]
        cut = date.fromisoformat(value)
        return {d for d in days if (d >= cut if op == ">=" else d < cut)}

    job = chosen(recent_partitions(delta, TABLE, 1))
    assert job == {date(2026, 11, 25), date(2026, 11, 26)}
    maintenance = chosen(older_partitions(delta, TABLE, 1))
    assert maintenance == {date(2026, 11, d) for d in range(20, 24)}
    # the job, a day later, still leaves maintenance's partitions alone
    later = {d for d in days if d >= date(2026, 11, 26)}
    assert not (maintenance & (job | later))
    unpartitioned = TableSpec(name="t.u", schema=TABLE.schema)
    assert recent_partitions(delta, unpartitioned, 1) is None
    assert older_partitions(delta, unpartitioned, 1) is None
