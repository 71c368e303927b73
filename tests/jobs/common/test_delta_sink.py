"""The Delta sink: idempotent per (query, batch), the same rows from either commit path."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from jobs.common.delta_sink import DeltaSink, SchemaMismatchError
from schemas.tables import TIMESTAMP, TableSpec
from tests.support import read_table

pytestmark = pytest.mark.spark

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


def test_a_replayed_batch_is_written_once(isolated_settings, spark):
    settings = isolated_settings()
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


def test_compaction_every_n_batches_keeps_rows_and_replays_skipped(isolated_settings, spark):
    settings = isolated_settings(delta__compact_every_batches=3)
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


def test_another_query_id_is_a_separate_transaction(isolated_settings, spark):
    settings = isolated_settings()
    sink = DeltaSink(settings)
    sink.write(batch(spark, range(10)), TABLE, "query-a", 5)
    result = sink.write(batch(spark, range(10, 20)), TABLE, "query-b", 0)
    assert not result.skipped
    assert read_table(settings, TABLE.name).num_rows == 20


def test_executor_files_carry_statistics_for_data_skipping(isolated_settings, spark):
    settings = isolated_settings()
    DeltaSink(settings).write(batch(spark, range(40)), TABLE, "q", 0)
    actions = DeltaTable(settings.table_uri(TABLE.name)).get_add_actions(flatten=True)
    assert sum(actions.column("num_records").to_pylist()) == 40
    assert min(actions.column("min.score").to_pylist()) == 0.0
    assert max(actions.column("max.score").to_pylist()) == 19.5
    assert all(
        p.startswith("event_date=2026-11-22/part-00000000-q-")
        for p in actions.column("path").to_pylist()
    )


def test_an_empty_batch_is_recorded(isolated_settings, spark):
    settings = isolated_settings()
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


def test_a_table_created_with_other_columns_is_refused(isolated_settings, spark):
    settings = isolated_settings()
    DeltaTable.create(settings.table_uri(TABLE.name), schema=pa.schema([("event_id", pa.string())]))
    with pytest.raises(SchemaMismatchError, match="brandlake expects"):
        DeltaSink(settings).write(batch(spark, range(3)), TABLE, "q", 0)


def test_delta_spark_writer_is_one_setting_away(isolated_settings, spark):
    """delta.writer=spark writes with format("delta") and txnAppId/txnVersion; without the
    delta-spark jars (not installable here) Spark cannot find the format."""
    settings = isolated_settings(delta__writer="spark")
    with pytest.raises(Exception, match=r"(?i)data source: delta"):
        DeltaSink(settings).write(batch(spark, range(3)), TABLE, "q", 0)
    assert not DeltaTable.is_deltatable(settings.table_uri(TABLE.name))
