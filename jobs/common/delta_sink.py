"""Exactly-once Delta writes from `foreachBatch`, with or without Spark's Delta jars.

Each write carries a Delta app transaction (app id = the streaming query's id, version = the
batch id), and a batch whose version the table already holds is skipped: a micro-batch replayed
after a crash writes nothing twice. Writers (`delta` in `conf/`):

- `delta-rs` + `executors`: executors write Parquet files into the table's `_staging/` folder
  with Spark's own writer; the driver reads only their footers and commits them in one Delta
  transaction with delta-rs. Rows never pass through the driver.
- `delta-rs` + `driver`: the batch is collected to the driver as one Arrow table and written
  with `write_deltalake` (simple; bounded by driver memory).
- `spark`: delta-spark's `format("delta")` with `txnAppId`/`txnVersion` (needs the jars).
"""

from __future__ import annotations

import json
import posixpath
import time
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, Schema, Transaction, write_deltalake
from deltalake.transaction import AddAction
from pyspark.sql import DataFrame

from jobs.common.config import Settings, is_uri
from schemas.spark import arrow_to_spark
from schemas.tables import TableSpec

STAGING = "_staging"
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


class SchemaMismatchError(ValueError):
    """A batch or an existing table does not match the table's definition in `schemas/`."""


@dataclass(frozen=True)
class WriteResult:
    table: str
    batch_id: int
    rows: int | None  # None: not counted (the `spark` writer)
    skipped: bool  # the table already held this batch


class DeltaSink:
    """Writes micro-batches to the Delta tables of one streaming query, idempotently."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.storage_options = settings.lake.storage_options or None
        self._checked: set[str] = set()

    def uri(self, table: TableSpec) -> str:
        return self.settings.table_uri(table.name)

    def write(self, df: DataFrame, table: TableSpec, app_id: str, batch_id: int) -> WriteResult:
        df = conform(df, table)
        if self.settings.delta.writer == "spark":
            (
                df.write.format("delta")
                .mode("append")
                .partitionBy(*table.partition_by)
                .option("txnAppId", app_id)
                .option("txnVersion", batch_id)
                .save(self.uri(table))
            )
            return WriteResult(table.name, batch_id, None, skipped=False)
        delta = self._open(table)
        done = delta.transaction_version(app_id)
        if done is not None and done >= batch_id:
            return WriteResult(table.name, batch_id, 0, skipped=True)
        commit = CommitProperties(
            app_transactions=[Transaction(app_id=app_id, version=batch_id)],
            custom_metadata={"brandlake.batch_id": str(batch_id)},
        )
        if self.settings.delta.commit == "driver":
            rows = self._write_from_driver(df, table, delta, commit)
        else:
            rows = self._write_from_executors(df, table, delta, app_id, batch_id, commit)
        return WriteResult(table.name, batch_id, rows, skipped=False)

    def _open(self, table: TableSpec) -> DeltaTable:
        uri = self.uri(table)
        if not DeltaTable.is_deltatable(uri, storage_options=self.storage_options):
            DeltaTable.create(
                uri,
                schema=table.schema,
                partition_by=list(table.partition_by) or None,
                mode="ignore",
                name=table.name,
                description=table.doc,
                storage_options=self.storage_options,
            )
        delta = DeltaTable(uri, storage_options=self.storage_options)
        if table.name not in self._checked:
            check_table_schema(delta, table)
            self._checked.add(table.name)
        return delta

    def _write_from_driver(self, df, table, delta, commit) -> int:
        data = df.toArrow().cast(table.schema)
        if data.num_rows:
            write_deltalake(
                delta,
                data,
                mode="append",
                partition_by=list(table.partition_by) or None,
                commit_properties=commit,
            )
        else:
            _commit_empty(delta, table, commit)
        return data.num_rows

    def _write_from_executors(self, df, table, delta, app_id, batch_id, commit) -> int:
        relative = posixpath.join(STAGING, app_id, str(batch_id))
        staging = posixpath.join(self.uri(table), relative)
        # Overwrite: whatever a crashed attempt of this batch left behind is replaced.
        (
            df.write.mode("overwrite")
            .partitionBy(*table.partition_by)
            .option("compression", "snappy")
            .parquet(_spark_path(staging))
        )
        filesystem, root = pafs.FileSystem.from_uri(staging if is_uri(staging) else _local(staging))
        infos = filesystem.get_file_info(pafs.FileSelector(root, recursive=True))
        actions, rows = [], 0
        for info in infos:
            if info.type != pafs.FileType.File or not info.base_name.endswith(".parquet"):
                continue
            inner = posixpath.relpath(info.path, root)
            metadata = pq.read_metadata(info.path, filesystem=filesystem)
            rows += metadata.num_rows
            actions.append(
                AddAction(
                    path=posixpath.join(relative, inner),
                    size=info.size,
                    partition_values=_partition_values(inner, table),
                    modification_time=int(
                        (info.mtime.timestamp() if info.mtime else time.time()) * 1000
                    ),
                    data_change=True,
                    stats=json.dumps(_file_stats(metadata, table)),
                )
            )
        if actions:
            delta.create_write_transaction(
                actions,
                mode="append",
                schema=table.schema,
                partition_by=list(table.partition_by) or None,
                commit_properties=commit,
            )
        else:
            _commit_empty(delta, table, commit)
        return rows


def conform(df: DataFrame, table: TableSpec) -> DataFrame:
    """The batch's columns in the table's order; a clear error for a missing, extra or mistyped one."""
    target = arrow_to_spark(table.schema)
    have = {f.name: f.dataType for f in df.schema.fields}
    problems = [f"missing column {f.name}" for f in target.fields if f.name not in have]
    problems += [f"unexpected column {c}" for c in have if c not in table.columns]
    problems += [
        f"column {f.name} is {have[f.name].simpleString()}, the table has {f.dataType.simpleString()}"
        for f in target.fields
        if f.name in have and have[f.name] != f.dataType
    ]
    if problems:
        raise SchemaMismatchError(f"writing {table.name}: " + "; ".join(problems))
    return df.select(*table.columns)


def check_table_schema(delta: DeltaTable, table: TableSpec) -> None:
    """Fail clearly when the table on disk was created with other columns than `schemas/` says."""
    on_disk = [(f.name, str(f.type)) for f in delta.schema().fields]
    expected = [(f.name, str(f.type)) for f in Schema.from_arrow(table.schema).fields]
    if on_disk != expected:
        raise SchemaMismatchError(
            f"{table.name} at {delta.table_uri} has columns {on_disk}, but brandlake expects "
            f"{expected}. Migrate the table or point lake.root at a new location."
        )
    if list(delta.metadata().partition_columns) != list(table.partition_by):
        raise SchemaMismatchError(
            f"{table.name} is partitioned by {delta.metadata().partition_columns}, "
            f"brandlake expects {list(table.partition_by)}"
        )


def _commit_empty(delta: DeltaTable, table: TableSpec, commit: CommitProperties) -> None:
    # Record the batch even when it had no rows, so the table's progress is visible and the
    # batch is never retried against this table.
    delta.create_write_transaction(
        [],
        mode="append",
        schema=table.schema,
        partition_by=list(table.partition_by) or None,
        commit_properties=commit,
    )


def _local(path: str) -> str:
    return "file://" + path if path.startswith("/") else path


def _spark_path(uri: str) -> str:
    return uri.replace("s3://", "s3a://", 1) if uri.startswith("s3://") else uri


def _partition_values(inner: str, table: TableSpec) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for part in posixpath.dirname(inner).split("/"):
        if "=" in part:
            key, value = part.split("=", 1)
            value = unquote(value)
            values[key] = None if value == HIVE_NULL else value
    missing = set(table.partition_by) - values.keys()
    if missing:
        raise SchemaMismatchError(f"{inner}: no partition value for {sorted(missing)}")
    return values


def _file_stats(metadata: pq.FileMetaData, table: TableSpec) -> dict:
    """Delta file statistics from the Parquet footer: row count, nulls, min and max."""
    nulls: dict[str, int] = {}
    low: dict[str, object] = {}
    high: dict[str, object] = {}
    names = metadata.schema.names
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index, name in enumerate(names):
            stats = row_group.column(index).statistics
            if stats is None:
                continue
            if stats.null_count is not None:
                nulls[name] = nulls.get(name, 0) + stats.null_count
            if not stats.has_min_max or pa.types.is_binary(table.schema.field(name).type):
                continue
            lo, hi = _json_value(stats.min), _json_value(stats.max)
            low[name] = lo if name not in low else min(low[name], lo)
            high[name] = hi if name not in high else max(high[name], hi)
    return {
        "numRecords": metadata.num_rows,
        "nullCount": nulls,
        "minValues": low,
        "maxValues": high,
    }


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value
