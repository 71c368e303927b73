"""bronze_ingest: records split into bronze and quarantine rows; Kafka -> bronze end to end."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from jobs import bronze_ingest
from jobs.simulate import TOPICS as SIMULATED
from jobs.simulate import simulator
from schemas.events import EVENT_SCHEMAS, KAFKA_RECORD
from schemas.tables import BRONZE_TABLES, QUARANTINE
from tests.support import produce, read_table

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


TOPICS = {
    "segments-topic": "segments",
    "impressions-topic": "impressions",
    "views": "viewer_events",
}
INGESTED = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def kafka_batch(topic: str, values: list[bytes]) -> pa.RecordBatch:
    """Records as the Kafka source gives them."""
    rows = len(values)
    return pa.RecordBatch.from_pydict(
        {
            "key": [b"k"] * rows,
            "value": values,
            "topic": [topic] * rows,
            "partition": [0] * rows,
            "offset": list(range(rows)),
            "timestamp": [INGESTED] * rows,
            "timestampType": [0] * rows,
        },
        schema=KAFKA_RECORD,
    )


def test_split_types_valid_records_and_quarantines_the_rest():
    good = json.dumps(SEGMENT).encode()
    bad = json.dumps({**SEGMENT, "fps": -3, "codec": None}).encode()
    split = bronze_ingest.SplitRecords(TOPICS, INGESTED)
    out = split(kafka_batch("segments-topic", [good, bad, b"\xff", b"[]"]))
    assert set(out) == {"bronze.segments", "bronze.quarantine"}
    segments = out["bronze.segments"].cast(BRONZE_TABLES["segments"].schema).to_pylist()
    assert len(segments) == 1
    row = segments[0]
    assert row["sequence"] == 1 and row["width"] == 1280 and row["fps"] == 30.0
    assert row["start_time"] == datetime(2026, 11, 22, 10, 0, 2, 500000, tzinfo=UTC)
    assert row["event_date"] == date(2026, 11, 22)
    assert row["payload"] == good.decode()
    assert (row["kafka_topic"], row["kafka_offset"], row["ingest_time"]) == (
        "segments-topic",
        0,
        INGESTED,
    )
    quarantine = out["bronze.quarantine"].cast(QUARANTINE.schema).to_pylist()
    assert [(r["kafka_offset"], r["reason"]) for r in quarantine] == [
        (1, "fps: below 0.1; codec: required"),
        (2, "payload is not valid UTF-8"),
        (3, "payload is not a JSON object"),
    ]
    assert quarantine[1]["payload"] == b"\xff"
    assert quarantine[0]["ingest_date"] == date(2026, 11, 22)


def test_a_topic_without_a_schema_is_quarantined():
    split = bronze_ingest.SplitRecords(TOPICS, INGESTED)
    out = split(kafka_batch("mystery", [json.dumps(SEGMENT).encode()]))
    assert out["bronze.quarantine"].column("reason").to_pylist() == [
        "no event schema for topic mystery"
    ]


def test_split_agrees_with_the_schema_validator(stack):
    records = list(itertools.islice(simulator(stack, bad_ratio=0.3, seed=11), 3000))
    split = bronze_ingest.SplitRecords({key: key for key in SIMULATED}, INGESTED)
    for key in SIMULATED:
        values = [r.value for r in records if r.topic == key]
        out = split(kafka_batch(key, values))
        expected = ["; ".join(EVENT_SCHEMAS[key].parse(v)[1]) for v in values]
        assert out["bronze.quarantine"].column("reason").to_pylist() == [e for e in expected if e]
        assert out[f"bronze.{key}"].num_rows == expected.count("")


@pytest.mark.services
@pytest.mark.spark
def test_simulated_events_land_in_bronze_exactly_and_bad_ones_in_quarantine(
    isolated_settings, spark
):
    settings = isolated_settings(kafka__max_offsets_per_trigger=8000)
    records = list(itertools.islice(simulator(settings, bad_ratio=0.02, seed=5), 20_000))
    for key in SIMULATED:
        produce(settings, key, (r.value for r in records if r.topic == key))

    bronze_ingest.run(settings, available_now=True)

    for key in SIMULATED:
        expected = {
            json.loads(r.value)["event_id"] for r in records if r.topic == key and not r.bad_kind
        }
        table = read_table(settings, f"bronze.{key}")
        ids = table.column("event_id").to_pylist()
        assert len(ids) == len(expected) == len(set(ids))
        assert set(ids) == expected
    quarantine = read_table(settings, "bronze.quarantine").to_pylist()
    injected = sorted(r.value for r in records if r.bad_kind)
    assert sorted(bytes(r["payload"]) for r in quarantine) == injected
    assert all(r["reason"] for r in quarantine)
    assert {r["kafka_topic"] for r in quarantine} == {
        settings.kafka.topics[key].name for key in SIMULATED
    }
    # An auction marked filled with its top bid under the floor breaks a rule across fields.
    under_floor = [r for r in quarantine if "the top bid is under the floor" in r["reason"]]
    assert under_floor and all(r["kafka_topic"].startswith("auctions") for r in under_floor)
