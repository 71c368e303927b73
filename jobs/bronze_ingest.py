"""bronze_ingest: every Kafka topic into its bronze Delta table; bad records into quarantine.

    brandlake run bronze-ingest [--available-now] [--set kafka.max_offsets_per_trigger=100000]

Each valid record becomes a row of `bronze.<topic>` with its typed fields, the raw payload, its
Kafka coordinates and the ingest time. A record that is not UTF-8, not a JSON object, or breaks a
rule of its schema (`schemas/events.py`) goes to `bronze.quarantine` with its raw bytes, the
reasons and its coordinates. The stream never stops on bad input, and each micro-batch is
written exactly once (see `jobs/common/delta_sink.py`).
"""

from __future__ import annotations

import argparse
import logging
import time

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.common.config import Settings, add_set_option, load_settings, parse_overrides
from jobs.common.delta_sink import DeltaSink, WriteResult
from jobs.common.kafka import check_broker, client_config
from jobs.common.spark import build_session, read_kafka_stream
from jobs.common.streaming import configure_logging, run_until_stopped, start_query
from schemas.events import EVENT_SCHEMAS, NOT_AN_OBJECT, PAYLOAD_NOT_UTF8, EventSchema
from schemas.spark import CORRUPT, raw_struct, typed_struct, typed_value, violations
from schemas.tables import BRONZE_TABLES, QUARANTINE, TableSpec

log = logging.getLogger("brandlake.bronze_ingest")

KAFKA_COORDINATES = {
    "topic": "kafka_topic",
    "partition": "kafka_partition",
    "offset": "kafka_offset",
    "timestamp": "kafka_timestamp",
}


def extract(spark: SparkSession, settings: Settings) -> DataFrame:
    """Every event topic as one stream of Kafka records."""
    return read_kafka_stream(spark, settings, list(EVENT_SCHEMAS))


def parse(records: DataFrame, event: EventSchema) -> DataFrame:
    """Kafka records of one topic with the event's typed fields and `reason` (null when valid)."""
    text = F.col("value").cast("string")
    raw = F.from_json(text, raw_struct(event)).alias("_raw")
    typed = F.from_json(text, typed_struct(event)).alias("_typed")
    parsed = records.select("*", raw, typed)
    values = {f.name: typed_value(f, F.col(f"_typed.{f.name}")) for f in event.fields}
    field_reasons = [violations(f, F.col(f"_raw.{f.name}"), values[f.name]) for f in event.fields]
    not_an_object = F.col("_raw").isNull() | F.col(f"_raw.{CORRUPT}").isNotNull()
    reason = (
        F.when(~F.is_valid_utf8("value"), F.lit(PAYLOAD_NOT_UTF8))
        .when(not_an_object, F.lit(NOT_AN_OBJECT))
        .otherwise(F.nullif(F.concat_ws("; ", *field_reasons), F.lit("")))
    )
    return parsed.select(
        *[values[name].alias(name) for name in event.names],
        text.alias("payload"),
        *[F.col(source).alias(name) for source, name in KAFKA_COORDINATES.items()],
        F.col("key").alias("kafka_key"),
        F.col("value").alias("raw_value"),
        reason.alias("reason"),
    )


def valid_rows(parsed: DataFrame, event: EventSchema, ingest_time: Column) -> DataFrame:
    """The bronze table's rows: valid records, partitioned by their event date."""
    return parsed.where(F.col("reason").isNull()).select(
        *event.names,
        "payload",
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        "kafka_timestamp",
        ingest_time.alias("ingest_time"),
        F.to_date(event.event_time).alias("event_date"),
    )


def quarantined_rows(parsed: DataFrame, ingest_time: Column) -> DataFrame:
    """Invalid records, raw and untouched, with the reason they were rejected."""
    return parsed.where(F.col("reason").isNotNull()).select(
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        "kafka_timestamp",
        "kafka_key",
        F.col("raw_value").alias("payload"),
        "reason",
        ingest_time.alias("ingest_time"),
        F.to_date(ingest_time).alias("ingest_date"),
    )


def transform(
    records: DataFrame, topics: dict[str, str], ingest_time: Column
) -> dict[TableSpec, DataFrame]:
    """Split one batch of records into the rows of each bronze table and of the quarantine.

    `topics` maps each event schema (`segments`, ...) to the Kafka topic it is read from.
    """
    outputs: dict[TableSpec, DataFrame] = {}
    quarantine: DataFrame | None = None
    for key, topic in topics.items():
        event = EVENT_SCHEMAS[key]
        parsed = parse(records.where(F.col("topic") == topic), event)
        outputs[BRONZE_TABLES[key]] = valid_rows(parsed, event, ingest_time)
        rejected = quarantined_rows(parsed, ingest_time)
        quarantine = rejected if quarantine is None else quarantine.unionByName(rejected)
    outputs[QUARANTINE] = quarantine
    return outputs


def load(
    outputs: dict[TableSpec, DataFrame], sink: DeltaSink, app_id: str, batch_id: int
) -> list[WriteResult]:
    return [sink.write(df, table, app_id, batch_id) for table, df in outputs.items()]


def batch_handler(settings: Settings, sink: DeltaSink):
    topics = {key: settings.kafka.topics[key].name for key in EVENT_SCHEMAS}

    def handle(records: DataFrame, batch_id: int, query_id: str) -> None:
        started = time.monotonic()
        # Each table is a separate Spark job over the batch: read Kafka once, not once per table.
        records = records.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            ingest_time = F.lit(time.time()).cast("timestamp")
            results = load(transform(records, topics, ingest_time), sink, query_id, batch_id)
        finally:
            records.unpersist()
        summary = ", ".join(
            f"{r.table} {'already written' if r.skipped else f'+{r.rows}'}" for r in results
        )
        log.info("batch %d: %s (%.1fs)", batch_id, summary, time.monotonic() - started)

    return handle


def run(settings: Settings, available_now: bool = False) -> None:
    """extract -> transform -> load, one micro-batch at a time, until stopped or caught up."""
    check_broker(client_config(settings))
    spark = build_session(settings, app_name="brandlake-bronze_ingest")
    records = extract(spark, settings)
    handler = batch_handler(settings, DeltaSink(settings))
    query = start_query(records, settings, settings.jobs.bronze_ingest, handler, available_now)
    run_until_stopped(query)
    if query.exception() is not None:
        raise RuntimeError(f"bronze_ingest failed: {query.exception()}")
    for table in (*BRONZE_TABLES.values(), QUARANTINE):
        log.info("%s: %s", table.name, settings.table_uri(table.name))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    configure_logging()
    run(load_settings(args.overrides), args.available_now)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="brandlake run bronze-ingest", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--available-now",
        action="store_true",
        help="process what Kafka holds now, in micro-batches, then stop",
    )
    add_set_option(parser)
    args = parser.parse_args(argv)
    args.overrides = parse_overrides(args.set)
    return args


if __name__ == "__main__":
    main()
