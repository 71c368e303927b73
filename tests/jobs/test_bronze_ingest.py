"""bronze_ingest: parsing and validation in Spark, and Kafka -> bronze end to end."""

from __future__ import annotations

import itertools
import json

import pytest
from pyspark.sql import functions as F

from jobs import bronze_ingest
from jobs.simulate import simulator
from schemas.events import EVENT_SCHEMAS
from schemas.tables import BRONZE_TABLES, QUARANTINE
from tests.support import produce, read_table

pytestmark = pytest.mark.spark

SEGMENT = {
    "event_id": "seg-1",
    "stream_id": "arena-live",
    "sequence": 1,
    "uri": "file:///landing/arena-live/seg_00001.ts",
    "start_time": "2026-11-22T10:00:02.5Z",
    "duration_s": 2.0,
    "width": 1280,
    "height": 720,
    "fps": 30.0,
    "codec": "h264",
    "bytes": 1000,
}


def kafka_rows(spark, topic, values):
    rows = [(b"k", v, topic, 0, i, None, 0) for i, v in enumerate(values)]
    schema = (
        "key binary, value binary, topic string, partition int, offset long, "
        "timestamp timestamp, timestampType int"
    )
    return spark.createDataFrame(rows, schema)


TOPICS = {"segments": "segments", "impressions": "impressions", "viewer_events": "viewer_events"}


def test_parse_types_valid_records(spark):
    records = kafka_rows(spark, "segments", [json.dumps(SEGMENT).encode()])
    parsed = bronze_ingest.parse(records, TOPICS)
    row = parsed.collect()[0].asDict()
    assert row["reason"] is None
    assert row["segments___valid"] and not row["impressions___valid"]
    assert row["segments__sequence"] == 1 and row["segments__width"] == 1280
    assert row["segments__start_time"].isoformat().startswith("2026-11-22T10:00:02.5")
    types = dict(parsed.dtypes)
    assert types["segments__start_time"] == "timestamp"
    assert types["segments__bytes"] == "bigint"
    assert row["impressions__event_id"] is None


def test_spark_rules_give_the_python_validator_reasons(spark, stack):
    """The same records, judged by Spark and by Python, get the same reasons."""
    payloads = {key: [] for key in EVENT_SCHEMAS}
    for record in itertools.islice(simulator(stack, bad_ratio=0.3, seed=11), 3000):
        payloads[record.topic].append(record.value)
    extra = [
        {**SEGMENT, "sequence": "12"},
        {**SEGMENT, "sequence": 1.5},
        {**SEGMENT, "fps": float("nan")},
        {**SEGMENT, "width": None, "codec": 5},
        {**SEGMENT, "start_time": "2026-13-40T00:00:00Z"},
    ]
    payloads["segments"] = [json.dumps(e).encode() for e in extra] + [b"", b"null", b"{}"]
    for key, values in payloads.items():
        schema = EVENT_SCHEMAS[key]
        parsed = bronze_ingest.parse(kafka_rows(spark, key, values), TOPICS)
        spark_reasons = [r.reason for r in parsed.orderBy("offset").collect()]
        python_reasons = ["; ".join(schema.parse(v)[1]) or None for v in values]
        assert spark_reasons == python_reasons, key


def test_transform_splits_valid_and_quarantined_rows(spark):
    good = json.dumps(SEGMENT).encode()
    bad = json.dumps({**SEGMENT, "fps": -3}).encode()
    records = kafka_rows(spark, "segments-topic", [good, bad, b"\xff"])
    topics = {"segments": "segments-topic", "impressions": "i", "viewer_events": "v"}
    parsed = bronze_ingest.parse(records, topics)
    routes = bronze_ingest.routes(topics, F.current_timestamp())
    assert {route.table for route in routes} == {*BRONZE_TABLES.values(), QUARANTINE}
    rows = {r.table.name: parsed.where(r.when).select(*r.columns).collect() for r in routes}
    segments = rows["bronze.segments"]
    quarantine = sorted(rows["bronze.quarantine"], key=lambda r: r.kafka_offset)
    assert [r.event_id for r in segments] == ["seg-1"]
    assert str(segments[0].event_date) == "2026-11-22"
    assert segments[0].payload == good.decode()
    assert [(r.kafka_offset, r.reason) for r in quarantine] == [
        (1, "fps: below 0.1"),
        (2, "payload is not valid UTF-8"),
    ]
    assert bytes(quarantine[1].payload) == b"\xff"
    assert rows["bronze.impressions"] == []


@pytest.mark.services
def test_simulated_events_land_in_bronze_exactly_and_bad_ones_in_quarantine(isolated_settings, spark):
    settings = isolated_settings(kafka__max_offsets_per_trigger=8000)
    records = list(itertools.islice(simulator(settings, bad_ratio=0.02, seed=5), 20_000))
    for key in ("impressions", "viewer_events"):
        produce(settings, key, (r.value for r in records if r.topic == key))

    bronze_ingest.run(settings, available_now=True)

    for key in ("impressions", "viewer_events"):
        expected = {json.loads(r.value)["event_id"] for r in records if r.topic == key and not r.bad_kind}
        table = read_table(settings, f"bronze.{key}")
        ids = table.column("event_id").to_pylist()
        assert len(ids) == len(expected) == len(set(ids))
        assert set(ids) == expected
    quarantine = read_table(settings, "bronze.quarantine").to_pylist()
    injected = sorted(r.value for r in records if r.bad_kind)
    assert sorted(bytes(r["payload"]) for r in quarantine) == injected
    assert all(r["reason"] for r in quarantine)
    assert {r["kafka_topic"] for r in quarantine} == {
        settings.kafka.topics["impressions"].name,
        settings.kafka.topics["viewer_events"].name,
    }
