"""Rows of `bronze.quarantine`: Kafka records a job could not use, with the reason and where
they came from, so bad input is never dropped silently."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from schemas.tables import QUARANTINE, TIMESTAMP

KAFKA_COORDINATES = {
    "topic": "kafka_topic",
    "partition": "kafka_partition",
    "offset": "kafka_offset",
    "timestamp": "kafka_timestamp",
}


def kafka_coordinates(batch: pa.RecordBatch, ingest_time: datetime) -> dict[str, pa.Array]:
    """Each record's topic, partition, offset and timestamp, and when the job read it."""
    return {
        **{name: batch.column(source) for source, name in KAFKA_COORDINATES.items()},
        "ingest_time": pa.array([ingest_time] * batch.num_rows, TIMESTAMP),
    }


def quarantine_table(batch: pa.RecordBatch, reasons: list[str], ingest_time: datetime) -> pa.Table:
    """The quarantine rows of `batch` (Kafka records), one reason per record."""
    return pa.table(
        {
            **kafka_coordinates(batch, ingest_time),
            "kafka_key": batch.column("key"),
            "payload": batch.column("value"),
            "reason": pa.array(reasons, pa.string()),
            "ingest_date": pa.array([ingest_time.date()] * batch.num_rows, pa.date32()),
        }
    ).select(QUARANTINE.columns)


# (Kafka topic, value) -> (where the record goes, what it parsed into, why it is bad). A record
# with no reasons and nothing parsed is valid and of no use to this job (it is left out).
Parse = Callable[[str, bytes | None], tuple[str | None, object, list[str]]]


@dataclass(frozen=True)
class SortedRecords:
    kept: dict[str, list[tuple[int, object]]]  # destination -> (index in the batch, parsed)
    quarantine: pa.Table  # the bad records, each with its reasons

    def parsed(self, destination: str) -> list:
        return [row for _, row in self.kept.get(destination, [])]


def sort_records(batch: pa.RecordBatch, parse: Parse, ingest_time: datetime) -> SortedRecords:
    """Parse and validate every Kafka record of `batch` (topic, value): the good ones by
    destination, the bad ones as quarantine rows whose reason joins every broken rule. The one
    loop every job's split runs, so no job can drop a bad record silently."""
    kept: dict[str, list[tuple[int, object]]] = {}
    rejected, reasons = [], []
    topics, values = batch.column("topic").to_pylist(), batch.column("value").to_pylist()
    for index, (topic, value) in enumerate(zip(topics, values, strict=True)):
        destination, parsed, why = parse(topic, value)
        if why:
            rejected.append(index)
            reasons.append("; ".join(why))
        elif parsed is not None and destination is not None:
            kept.setdefault(destination, []).append((index, parsed))
    bad = batch.take(pa.array(rejected, pa.int64()))
    return SortedRecords(kept, quarantine_table(bad, reasons, ingest_time))
