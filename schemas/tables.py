"""Delta table definitions. Bronze tables derive from the event schemas in `schemas.events`."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from schemas.events import EVENT_SCHEMAS, EventSchema

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "long": pa.int64(),
    "int": pa.int32(),
    "double": pa.float64(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
TIMESTAMP = ARROW_TYPES["timestamp"]


@dataclass(frozen=True)
class TableSpec:
    """A Delta table: its name in the lake (`layer.table`), schema and partition columns."""

    name: str
    schema: pa.Schema
    partition_by: tuple[str, ...] = ()
    doc: str = ""

    @property
    def columns(self) -> list[str]:
        return self.schema.names

    @property
    def spark_schema(self):
        """The schema as a Spark `StructType` (imports Spark only when asked)."""
        from pyspark.sql.pandas.types import from_arrow_schema

        return from_arrow_schema(self.schema)


KAFKA_COORDINATES = [
    pa.field("kafka_topic", pa.string()),
    pa.field("kafka_partition", pa.int32()),
    pa.field("kafka_offset", pa.int64()),
    pa.field("kafka_timestamp", TIMESTAMP),
]


def bronze_table(event: EventSchema) -> TableSpec:
    """The bronze table of a topic: typed event fields, the raw payload, Kafka coordinates."""
    fields = [pa.field(f.name, ARROW_TYPES[f.type]) for f in event.fields]
    fields += [
        pa.field("payload", pa.string()),
        *KAFKA_COORDINATES,
        pa.field("ingest_time", TIMESTAMP),
        pa.field("event_date", pa.date32()),
    ]
    return TableSpec(
        name=f"bronze.{event.topic}",
        schema=pa.schema(fields),
        partition_by=("event_date",),
        doc=f"{event.doc} One row per valid Kafka record, partitioned by the date of "
        f"{event.event_time}.",
    )


BRONZE_TABLES: dict[str, TableSpec] = {t: bronze_table(e) for t, e in EVENT_SCHEMAS.items()}

QUARANTINE = TableSpec(
    name="bronze.quarantine",
    schema=pa.schema(
        [
            *KAFKA_COORDINATES,
            pa.field("kafka_key", pa.binary()),
            pa.field("payload", pa.binary()),
            pa.field("reason", pa.string()),
            pa.field("ingest_time", TIMESTAMP),
            pa.field("ingest_date", pa.date32()),
        ]
    ),
    partition_by=("ingest_date",),
    doc="Records that failed parsing or validation: raw bytes, the reason, where they came from.",
)
