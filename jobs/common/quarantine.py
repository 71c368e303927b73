"""Rows of `bronze.quarantine`: Kafka records a job could not use, with the reason and where
they came from, so bad input is never dropped silently."""

from __future__ import annotations

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
