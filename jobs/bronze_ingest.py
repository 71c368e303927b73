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

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.common.config import Settings, add_set_option, load_settings, parse_overrides
from jobs.common.delta_sink import DeltaSink, Route, WriteResult
from jobs.common.kafka import check_broker, client_config
from jobs.common.spark import build_session, read_kafka_stream
from jobs.common.streaming import configure_logging, run_until_stopped, start_query
from schemas.events import EVENT_SCHEMAS, NOT_AN_OBJECT, PAYLOAD_NOT_UTF8, EventSchema
from schemas.spark import (
    CORRUPT,
    field_ok,
    needs_raw_check,
    raw_struct,
    typed_struct,
    typed_value,
    violations,
)
from schemas.tables import BRONZE_TABLES, QUARANTINE

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


def parse(records: DataFrame, topics: dict[str, str]) -> DataFrame:
    """Kafka records with, for each event schema `key` (mapped to its topic in `topics`), the
    typed fields as `key__field` and `key___valid`, plus `reason` (null when the record is valid).

    One pass over the batch: each record is parsed only with its own topic's schema, once into
    typed fields that cheap boolean rules check; only records that fail are parsed a second
    time (every field as text) to say why. Each step is its own projection: Spark does not
    inline an expensive expression (a JSON parse) that a later step uses more than once.
    """
    text = F.col("value").cast("string")
    utf8 = F.is_valid_utf8("value")
    mine = {key: F.col("topic") == topic for key, topic in topics.items()}
    schemas = {key: EVENT_SCHEMAS[key] for key in topics}

    typed = records.select(
        "*",
        *[
            F.when(mine[key], F.from_json(text, typed_struct(event))).alias(f"_typed_{key}")
            for key, event in schemas.items()
        ],
    )
    typed = typed.select(
        "*",
        *[
            typed_value(f, F.col(f"_typed_{key}.{f.name}")).alias(_field(key, f.name))
            for key, event in schemas.items()
            for f in event.fields
        ],
    )
    checks = []
    for key, event in schemas.items():
        raw_text = F.from_json(text, raw_struct(event))
        valid = mine[key] & utf8
        for spec in event.fields:
            raw_field = raw_text[spec.name] if needs_raw_check(spec) else None
            valid = valid & field_ok(spec, F.col(_field(key, spec.name)), raw_field)
        checks.append(F.coalesce(valid, F.lit(False)).alias(_field(key, "_valid")))
    checked = typed.select("*", *checks)

    valid_any = F.lit(False)
    for key in schemas:
        valid_any = valid_any | F.col(_field(key, "_valid"))
    explained = checked.select(
        "*",
        *[
            F.when(mine[key] & ~valid_any, F.from_json(text, raw_struct(event))).alias(f"_raw_{key}")
            for key, event in schemas.items()
        ],
    )
    reason = F.when(valid_any, F.lit(None).cast("string")).when(~utf8, F.lit(PAYLOAD_NOT_UTF8))
    for key, event in schemas.items():
        raw = F.col(f"_raw_{key}")
        field_reasons = [
            violations(f, raw[f.name], F.col(_field(key, f.name))) for f in event.fields
        ]
        reason = reason.when(
            mine[key],
            F.when(raw.isNull() | raw[CORRUPT].isNotNull(), F.lit(NOT_AN_OBJECT)).otherwise(
                F.concat_ws("; ", *field_reasons)
            ),
        )
    reason = reason.otherwise(F.concat(F.lit("no event schema for topic "), F.col("topic")))
    return explained.select(
        "*", text.alias("payload"), reason.alias("reason")
    ).drop(*[f"_typed_{k}" for k in schemas], *[f"_raw_{k}" for k in schemas])


def _field(key: str, name: str) -> str:
    return f"{key}__{name}"


def bronze_columns(key: str, ingest_time: Column) -> list[Column]:
    """A bronze table's columns: the typed event, raw payload, Kafka coordinates, dates."""
    event = EVENT_SCHEMAS[key]
    return [
        *[F.col(_field(key, name)).alias(name) for name in event.names],
        F.col("payload"),
        *[F.col(source).alias(name) for source, name in KAFKA_COORDINATES.items()],
        ingest_time.alias("ingest_time"),
        F.to_date(F.col(_field(key, event.event_time))).alias("event_date"),
    ]


def quarantine_columns(ingest_time: Column) -> list[Column]:
    """A rejected record, raw and untouched, with the reason and where it came from."""
    return [
        *[F.col(source).alias(name) for source, name in KAFKA_COORDINATES.items()],
        F.col("key").alias("kafka_key"),
        F.col("value").alias("payload"),
        F.col("reason"),
        ingest_time.alias("ingest_time"),
        F.to_date(ingest_time).alias("ingest_date"),
    ]


def routes(topics: dict[str, str], ingest_time: Column) -> list[Route]:
    """Where parsed rows go: valid ones to their topic's bronze table, the rest to quarantine."""
    to_bronze = [
        Route(BRONZE_TABLES[key], F.col(_field(key, "_valid")), bronze_columns(key, ingest_time))
        for key in topics
    ]
    return [*to_bronze, Route(QUARANTINE, F.col("reason").isNotNull(), quarantine_columns(ingest_time))]


def load(
    parsed: DataFrame, table_routes: list[Route], sink: DeltaSink, app_id: str, batch_id: int
) -> list[WriteResult]:
    """One pass over the batch; one exactly-once commit per table."""
    return sink.write_routed([(parsed, table_routes)], app_id, batch_id)


def batch_handler(settings: Settings, sink: DeltaSink):
    topics = {key: settings.kafka.topics[key].name for key in EVENT_SCHEMAS}

    def handle(records: DataFrame, batch_id: int, query_id: str) -> None:
        started = time.monotonic()
        ingest_time = F.lit(time.time()).cast("timestamp")
        parsed = parse(records, topics)
        results = load(parsed, routes(topics, ingest_time), sink, query_id, batch_id)
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
