"""The lake's Delta tables by name: opening them, and what is in them (location, version, rows)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import DeltaTable, write_deltalake

from jobs.common import object_store
from jobs.common.config import Settings, join_uri
from schemas.tables import (
    BRONZE_TABLES,
    CLICKS,
    FRAME_BRANDS,
    GOLD_TABLES,
    IMPRESSION_LOG,
    OPS_TABLES,
    PLAYER_EVENTS,
    QUARANTINE,
    SILVER_TABLES,
    YIELD_TABLES,
    TableSpec,
)

ALL_TABLES: tuple[TableSpec, ...] = (
    *BRONZE_TABLES.values(),
    QUARANTINE,
    *SILVER_TABLES,
    FRAME_BRANDS,
    IMPRESSION_LOG,
    CLICKS,
    PLAYER_EVENTS,
    *GOLD_TABLES,
    *YIELD_TABLES,
    *OPS_TABLES,
)


def open_table(settings: Settings, name: str) -> DeltaTable | None:
    """Table `layer.table` at its newest version, or None if it does not exist yet."""
    uri = settings.table_uri(name)
    options = settings.lake.storage_options or None
    if not DeltaTable.is_deltatable(uri, storage_options=options):
        return None
    return DeltaTable(uri, storage_options=options)


def append_rows(settings: Settings, table: TableSpec, rows: list[dict]) -> None:
    """Append rows (dicts of the table's columns) to a table, creating it when needed: for
    the batch jobs' small outputs (results, statistics), not for streams."""
    write_deltalake(
        settings.table_uri(table.name),
        pa.Table.from_pylist(rows, schema=table.schema),
        mode="append",
        partition_by=list(table.partition_by) or None,
        storage_options=settings.lake.storage_options or None,
    )


def replace_rows(settings: Settings, table: TableSpec, rows: list[dict], predicate: str) -> None:
    """Replace the rows matching `predicate` (SQL, e.g. `hour >= '2026-01-01T00:00:00+00:00'`)
    with `rows` in one commit, creating the table when needed: for batch outputs a rerun
    recomputes."""
    uri = settings.table_uri(table.name)
    options = settings.lake.storage_options or None
    exists = DeltaTable.is_deltatable(uri, storage_options=options)
    write_deltalake(
        uri,
        pa.Table.from_pylist(rows, schema=table.schema),
        mode="overwrite" if exists else "append",
        predicate=predicate if exists else None,
        partition_by=list(table.partition_by) or None,
        storage_options=options,
    )


def write_lake_file(settings: Settings, relative: str, data: bytes) -> str:
    """Write `data` to `<lake.root>/<relative>` (local or object store); returns where."""
    uri = join_uri(settings.lake.root, relative)
    filesystem, path = object_store.filesystem(uri, settings.lake.storage_options)
    filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with filesystem.open_output_stream(path) as out:
        out.write(data)
    return uri


class OpenTables:
    """The tables a streaming job reads or writes every batch, each opened once and brought up
    to date (only the commits since its last use are read) whenever it is used again.

    Opening a table replays its log from the last checkpoint: done for every read, that grew
    with every batch and cost more than the batch's own work.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._open: dict[str, DeltaTable] = {}

    def get(self, name: str) -> DeltaTable | None:
        delta = self._open.get(name)
        if delta is not None:
            delta.update_incremental()
            return delta
        delta = open_table(self.settings, name)
        if delta is not None:
            self._open[name] = delta
        return delta

    def read(
        self, name: str, columns: list[str] | None = None, where: ds.Expression | None = None
    ) -> pa.Table | None:
        """Rows of a table (filters prune files by partition and statistics); None if the
        table does not exist yet."""
        delta = self.get(name)
        if delta is None:
            return None
        return delta.to_pyarrow_dataset().to_table(columns=columns, filter=where)


def register_tables(spark, settings: Settings) -> list[str]:
    """Name every existing table in `spark`'s catalog (`bronze.impressions`, `gold.revenue_minute`,
    ...) so analysts write `spark.sql("SELECT ... FROM gold.revenue_minute")`; returns the
    names registered. The catalog entries point at the lake's folders (external tables): they
    live as long as the session, and dropping one never deletes data. Registering another
    lake's tables moves the names to them (a name kept pointing at the first lake it was
    registered for, so a session that switched lakes read the old one)."""
    registered = []
    for table in ALL_TABLES:
        if open_table(settings, table.name) is None:
            continue
        layer = table.name.split(".")[0]
        location = object_store.spark_path(settings.table_uri(table.name))
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {layer}")
        spark.sql(f"DROP TABLE IF EXISTS {table.name}")  # external: the data stays
        spark.sql(f"CREATE TABLE {table.name} USING delta LOCATION '{location}'")
        registered.append(table.name)
    return registered


def spark_sql(settings: Settings, statements: list[str], limit: int) -> None:
    """Run each statement in a local Spark session with every table registered; print the
    first `limit` rows of each result."""
    from jobs.common.spark import build_session

    spark = build_session(settings, app_name="brandlake-spark-sql")
    spark.sparkContext.setLogLevel("ERROR")
    try:
        register_tables(spark, settings)
        for statement in statements:
            result = spark.sql(statement)
            if result.columns:
                result.show(limit, truncate=False)
    finally:
        spark.stop()


def table_rows(settings: Settings, table: TableSpec) -> tuple[int, int] | None:
    """(version, rows) of a table, or None if it does not exist yet."""
    delta = open_table(settings, table.name)
    if delta is None:
        return None
    actions = delta.get_add_actions(flatten=True)
    rows = sum(n or 0 for n in actions.column("num_records").to_pylist()) if actions.num_rows else 0
    return delta.version(), rows


def describe_tables(settings: Settings) -> str:
    lines = [f"{'table':28} {'version':>7} {'rows':>10}  location"]
    for table in ALL_TABLES:
        found = table_rows(settings, table)
        version, rows = found if found else ("-", "-")
        lines.append(f"{table.name:28} {version:>7} {rows:>10}  {settings.table_uri(table.name)}")
    return "\n".join(lines)


def query_hints(settings: Settings) -> str:
    uri = settings.table_uri("bronze.impressions")
    exposure = settings.table_uri("gold.brand_exposure_minute")
    return f"""Query the tables (the first three need no Spark):
  delta-rs: from deltalake import DeltaTable; DeltaTable("{uri}").to_pandas()
  polars  : import polars as pl; pl.read_delta("{uri}")
  DuckDB  : import duckdb; from deltalake import DeltaTable
            impressions = DeltaTable("{uri}").to_pyarrow_dataset()
            duckdb.sql("select brand_id, sum(clearing_cpm) / 1000 from impressions group by 1")
            exposure = DeltaTable("{exposure}").to_pyarrow_dataset()
            duckdb.sql("select brand_id, sum(screen_seconds) from exposure group by 1")
  Spark   : brandlake spark-sql "select * from bronze.impressions limit 5", or in Python:
            jobs.common.lake.register_tables(spark, settings); spark.sql("...")"""
