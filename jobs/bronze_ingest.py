"""bronze_ingest: every Kafka topic into its bronze Delta table; bad records into quarantine.

    brandlake run bronze-ingest [--available-now] [--set kafka.max_offsets_per_trigger=100000]

Each valid record becomes a row of `bronze.<topic>` with its typed fields, the raw payload, its
Kafka coordinates and the ingest time. A record that is not UTF-8, not a JSON object, or breaks a
rule of its schema (`schemas/events.py`) goes to `bronze.quarantine` with its raw bytes, every
broken rule as the reason, and its coordinates. The stream never stops on bad input, and each
micro-batch is written exactly once (see `jobs/common/delta_sink.py`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from jobs.common.config import Settings
from jobs.common.delta_sink import DeltaSink, WriteResult
from jobs.common.quarantine import kafka_coordinates, sort_records
from jobs.common.spark import read_kafka_stream
from jobs.common.streaming import BatchClock, run_job, start_query
from schemas.events import EVENT_SCHEMAS
from schemas.tables import BRONZE_TABLES, QUARANTINE

log = logging.getLogger("brandlake.bronze_ingest")

TABLES = [*BRONZE_TABLES.values(), QUARANTINE]


def extract(spark: SparkSession, settings: Settings) -> DataFrame:
    """Every event topic as one stream of Kafka records."""
    return read_kafka_stream(spark, settings, list(EVENT_SCHEMAS))


@dataclass(frozen=True)
class SplitRecords:
    """Kafka records (one Arrow batch) -> the rows of each bronze table and of the quarantine.

    Runs on the executors, inside the Delta sink's single pass over the batch. `topics` maps
    each Kafka topic name to its event schema's key (`impressions`, ...).
    """

    topics: dict[str, str]
    ingest_time: datetime

    def __call__(self, batch: pa.RecordBatch) -> dict[str, pa.Table]:
        records = sort_records(batch, self._parse, self.ingest_time)
        out = {
            BRONZE_TABLES[key].name: self._bronze(
                key, batch.take([index for index, _ in found]), [row for _, row in found]
            )
            for key, found in records.kept.items()
        }
        return {**out, QUARANTINE.name: records.quarantine}

    def _parse(self, topic: str, value: bytes | None) -> tuple[str | None, dict | None, list]:
        key = self.topics.get(topic)
        record, why = parse_record(key, topic, value)
        return key, record, why

    def _bronze(self, key: str, batch: pa.RecordBatch, rows: list[dict]) -> pa.Table:
        event = EVENT_SCHEMAS[key]
        table = BRONZE_TABLES[key]
        fields = pa.schema([table.schema.field(name) for name in event.names])
        typed = pa.Table.from_pylist(rows, schema=fields)
        columns = {
            **{name: typed.column(name) for name in event.names},
            "payload": batch.column("value").cast(pa.string()),
            **kafka_coordinates(batch, self.ingest_time),
            "event_date": pa.array([r[event.event_time].date() for r in rows], pa.date32()),
        }
        return pa.table(columns).select(table.columns).cast(table.schema)


def parse_record(key: str | None, topic: str, value: bytes | None) -> tuple[dict | None, list[str]]:
    """A Kafka value as its topic's typed event, or the reasons it is not one."""
    if key is None:
        return None, [f"no event schema for topic {topic}"]
    return EVENT_SCHEMAS[key].parse(value)


def transform(settings: Settings, ingest_time: datetime) -> SplitRecords:
    """How one batch of Kafka records becomes rows of the bronze tables and the quarantine."""
    return SplitRecords({settings.kafka.topics[k].name: k for k in EVENT_SCHEMAS}, ingest_time)


def load(
    records: DataFrame, split: SplitRecords, sink: DeltaSink, app_id: str, batch_id: int
) -> list[WriteResult]:
    """One pass over the batch; one exactly-once commit per table."""
    return sink.write_split(records, TABLES, split, app_id, batch_id)


def batch_handler(settings: Settings, sink: DeltaSink):

    def handle(records: DataFrame, batch_id: int, query_id: str, clock: BatchClock) -> list:
        results = load(records, transform(settings, datetime.now(UTC)), sink, query_id, batch_id)
        sink.compact(list(BRONZE_TABLES.values()), batch_id, clock)
        return results

    return handle


def start(settings: Settings, spark: SparkSession, available_now: bool = False) -> StreamingQuery:
    """The running query: extract -> transform -> load, one micro-batch at a time."""
    records = extract(spark, settings)
    handler = batch_handler(settings, DeltaSink(settings))
    return start_query(records, settings, settings.jobs.bronze_ingest, handler, available_now)


def run(settings: Settings, available_now: bool = False) -> None:
    """Run the job until stopped (Ctrl-C, SIGTERM) or, with `available_now`, caught up."""
    run_job("bronze_ingest", start, settings, available_now, TABLES)


def main(argv: list[str] | None = None) -> None:
    from jobs.entrypoint import streaming_job_main

    streaming_job_main(argv, "brandlake run bronze-ingest", __doc__.split("\n")[0], run)


if __name__ == "__main__":
    main()
