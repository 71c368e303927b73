"""`brandlake sql`: DuckDB over the lake's tables by name, at a version or a time, and the errors
an analyst gets instead of a traceback."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable, write_deltalake

from jobs.analytics.sql import SqlError, parse_as_of, run_query
from jobs.common.config import load_settings
from schemas.tables import BRONZE_TABLES
from tests.jobs.common.test_lake import impression_rows
from tests.support import BRANDLAKE

REVENUE = (
    "SELECT brand_id, sum(clearing_cpm) / 1000 AS revenue FROM bronze.impressions "
    "GROUP BY 1 ORDER BY 1"
)


@pytest.fixture
def lake(tmp_path, monkeypatch):
    """bronze.impressions in two versions: 10 rows, then 4 more."""
    monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))
    settings = load_settings()
    table = BRONZE_TABLES["impressions"]
    uri = settings.table_uri(table.name)
    write_deltalake(uri, impression_rows(table, 10), partition_by=["event_date"])
    write_deltalake(uri, impression_rows(table, 4), mode="append")
    return settings


def test_tables_are_views_under_their_names(lake):
    result = run_query(lake, REVENUE).to_pylist()
    assert result == [{"brand_id": b, "revenue": 0.014} for b in ("fizzco", "lumen")]


def test_as_of_a_version_or_a_time(lake):
    count = "SELECT count(*) AS n FROM bronze.impressions"
    assert run_query(lake, count).column("n").to_pylist() == [14]
    assert run_query(lake, count, as_of=0).column("n").to_pylist() == [10]
    history = DeltaTable(lake.table_uri("bronze.impressions")).history()
    first = min(h["timestamp"] for h in history)
    at_first = datetime.fromtimestamp(first / 1000, UTC)
    assert run_query(lake, count, as_of=at_first).column("n").to_pylist() == [10]
    assert parse_as_of("2026-12-01T12:00:00") == datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert parse_as_of("7") == 7


@pytest.mark.parametrize(
    ("query", "as_of", "says"),
    [
        ("SELECT * FROM gold.nope", None, ["nope", "The lake's tables: bronze.segments"]),
        ("SELECT nope FROM bronze.impressions", None,
         ['"nope" not found', "bronze.impressions: event_id, event_time"]),
        ("SELECT * FROM gold.revenue_minute", None,
         ["gold.revenue_minute has not been written yet: run `brandlake run exposure-revenue`"]),
        ("SELECT * FROM bronze.impressions", 9, ["no version 9: its versions are 0 to 1"]),
        ("SELECT * FROM bronze.impressions, bronze.auctions", 1,
         ["names bronze.impressions, bronze.auctions: give a time instead"]),
        ("SELECT 1", None, []),  # names no table: every written table is there, none required
    ],
)  # fmt: skip
def test_errors_say_what_is_wrong(lake, query, as_of, says):
    if not says:
        assert run_query(lake, query, as_of).num_rows == 1
        return
    with pytest.raises(SqlError) as raised:
        run_query(lake, query, as_of)
    for words in says:
        assert words in str(raised.value)
    with pytest.raises(SqlError, match="neither a table version"):
        parse_as_of("yesterday")


def sql(home, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BRANDLAKE, "sql", *args], input=stdin, capture_output=True, text=True, timeout=120,
        env={**os.environ, "BRANDLAKE_HOME": str(home)},
    )  # fmt: skip


def test_the_command_prints_a_table_csv_json_or_writes_parquet(lake, tmp_path):
    table = sql(tmp_path, REVENUE)
    assert table.returncode == 0, table.stderr
    assert table.stdout.split("\n")[:3] == [
        "brand_id  revenue", "  fizzco    0.014", "   lumen    0.014"
    ]  # fmt: skip
    assert "(2 rows)" in table.stdout
    csv = sql(tmp_path, "--csv", stdin=REVENUE)
    assert csv.stdout.splitlines() == ["brand_id,revenue", "fizzco,0.014", "lumen,0.014"]
    query_file = tmp_path / "revenue.sql"
    query_file.write_text(REVENUE)
    lines = sql(tmp_path, "--json", "-f", str(query_file)).stdout.splitlines()
    assert json.loads(lines[0]) == {"brand_id": "fizzco", "revenue": 0.014}
    out = tmp_path / "revenue.parquet"
    assert sql(tmp_path, "--parquet", str(out), REVENUE).returncode == 0
    assert pq.read_table(out).num_rows == 2
    failed = sql(tmp_path, "SELECT * FROM gold.revenue_minute")
    assert failed.returncode == 1
    assert failed.stderr.startswith("brandlake: gold.revenue_minute has not been written yet")
    assert "Traceback" not in failed.stderr


EXPOSURE = (
    "SELECT brand_id, count(*) AS minutes, sum(screen_seconds) AS seconds, "
    "sum(media_value) AS value FROM gold.brand_exposure_minute GROUP BY brand_id ORDER BY brand_id"
)


@pytest.mark.spark
def test_duckdb_spark_and_delta_rs_agree_on_a_lake_the_jobs_made(demo_lake, spark):
    from jobs.common.lake import register_tables

    settings, _, _ = demo_lake
    duck = [tuple(row.values()) for row in run_query(settings, EXPOSURE).to_pylist()]
    register_tables(spark, settings)
    spark_rows = [tuple(row) for row in spark.sql(EXPOSURE).collect()]
    frame = DeltaTable(settings.table_uri("gold.brand_exposure_minute")).to_pandas()
    by_brand = frame.groupby("brand_id").agg(
        minutes=("minute", "count"), seconds=("screen_seconds", "sum"), value=("media_value", "sum")
    )
    delta_rs = [(b, int(r.minutes), r.seconds, r.value) for b, r in by_brand.iterrows()]

    def rounded(rows):
        return [tuple(round(v, 9) if isinstance(v, float) else v for v in row) for row in rows]

    assert len(duck) >= 2, duck
    assert rounded(duck) == rounded(spark_rows) == rounded(delta_rs)
