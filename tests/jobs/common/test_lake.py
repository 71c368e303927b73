"""Reading the lake without Spark, exactly as the query hints tell analysts to."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from jobs.common.config import load_settings
from jobs.common.delta_sink import DeltaSink
from jobs.common.lake import describe_tables, query_hints, register_tables, table_rows
from schemas.tables import BRONZE_TABLES


def test_tables_readable_by_delta_rs_polars_and_duckdb(tmp_path, monkeypatch):
    monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))
    settings = load_settings()
    table = BRONZE_TABLES["impressions"]
    uri = settings.table_uri(table.name)
    write_deltalake(uri, impression_rows(table, 10), partition_by=["event_date"])

    assert table_rows(settings, table) == (0, 10)
    assert "bronze.impressions                 0         10" in describe_tables(settings)
    assert len(DeltaTable(uri).to_pandas()) == 10
    assert pl.read_delta(uri).height == 10
    impressions = DeltaTable(uri).to_pyarrow_dataset()  # noqa: F841 - read by DuckDB by name
    revenue = duckdb.sql(
        "select brand_id, sum(clearing_cpm) / 1000 from impressions group by 1 order by 1"
    ).fetchall()
    assert revenue == [("fizzco", 0.01), ("lumen", 0.01)]
    assert uri in query_hints(settings)


def impression_rows(table, count: int) -> pa.Table:
    rows = [
        {name: None for name in table.columns}
        | {"event_id": f"e{i}", "brand_id": "fizzco" if i % 2 else "lumen", "clearing_cpm": 2.0}
        | {
            "event_time": datetime(2026, 11, 22, tzinfo=UTC),
            "event_date": datetime(2026, 11, 22).date(),
        }
        for i in range(count)
    ]
    return pa.Table.from_pylist(rows, schema=table.schema)


@pytest.mark.spark
def test_spark_sql_reads_the_tables_by_name(isolated_settings, spark, tmp_path):
    settings = isolated_settings()
    table = BRONZE_TABLES["impressions"]
    frame = spark.createDataFrame(impression_rows(table, 10))
    DeltaSink(settings).write(frame, table, "q", 0)
    assert register_tables(spark, settings) == ["bronze.impressions"]
    revenue = spark.sql(
        "select brand_id, sum(clearing_cpm) / 1000 as revenue from bronze.impressions "
        "group by 1 order by 1"
    ).collect()
    assert [(r.brand_id, r.revenue) for r in revenue] == [("fizzco", 0.01), ("lumen", 0.01)]
    # registering again (a second analyst session, or a new table) is harmless
    assert register_tables(spark, settings) == ["bronze.impressions"]
    assert spark.sql("select count(*) from bronze.impressions").first()[0] == 10
    # another lake's tables take the names over; the first lake's data stays
    other = isolated_settings(lake__root=str(tmp_path / "other-lake"))
    DeltaSink(other).write(spark.createDataFrame(impression_rows(table, 3)), table, "q", 0)
    assert register_tables(spark, other) == ["bronze.impressions"]
    assert spark.sql("select count(*) from bronze.impressions").first()[0] == 3
    assert len(DeltaTable(settings.table_uri(table.name)).to_pandas()) == 10
