"""Bad input at scale: generated payloads against every event schema and bronze's split.

Whatever the bytes, a record is either a valid event with every field typed, or it is not one
and says why; a batch of anything splits into bronze rows and quarantine rows, one per record,
without raising (a record that raised would stop the stream).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.bronze_ingest import SplitRecords
from jobs.common.config import load_settings
from jobs.simulate import simulator
from schemas.events import EVENT_SCHEMAS, KAFKA_RECORD
from schemas.tables import BRONZE_TABLES, QUARANTINE
from tests.schemas.test_events import SEGMENT

INGESTED = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TOPICS = {key: f"{key}-topic" for key in EVENT_SCHEMAS}
PROPERTY = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])  # fmt: skip


def valid_events() -> dict[str, list[dict]]:
    """A few valid events of every topic: the simulator's, and a segment."""
    found: dict[str, list[dict]] = {"segments": [SEGMENT]}
    records = simulator(load_settings(), rate_per_s=0, seed=3, bad_ratio=0.0)
    for record, _ in zip(records, range(60), strict=False):
        found.setdefault(record.topic, []).append(json.loads(record.value))
    assert set(found) == set(EVENT_SCHEMAS)
    return found


VALID = valid_events()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def payloads(draw) -> tuple[str, bytes]:
    """(schema key, bytes): random bytes, random JSON, or a valid event with one field
    replaced, removed or added."""
    key = draw(st.sampled_from(sorted(EVENT_SCHEMAS)))
    kind = draw(st.sampled_from(["bytes", "json", "mutated", "valid"]))
    if kind == "bytes":
        return key, draw(st.binary(max_size=200))
    if kind == "json":
        return key, json.dumps(draw(json_values)).encode()
    event = dict(draw(st.sampled_from(VALID[key])))
    if kind == "mutated":
        name = draw(st.sampled_from([*EVENT_SCHEMAS[key].names, "unexpected_field"]))
        if draw(st.booleans()):
            event[name] = draw(json_values)
        else:
            event.pop(name, None)
    return key, json.dumps(event).encode()


def check_verdict(key: str, record: dict | None, reasons: list[str]) -> None:
    if record is None:
        assert reasons and all(isinstance(r, str) and r for r in reasons)
        return
    assert reasons == []
    assert set(record) == set(EVENT_SCHEMAS[key].names)
    for value in record.values():
        assert not (isinstance(value, float) and not math.isfinite(value))


@PROPERTY
@given(payloads())
def test_any_payload_is_an_event_or_says_why_not(item):
    key, payload = item
    check_verdict(key, *EVENT_SCHEMAS[key].parse(payload))


@PROPERTY
@given(st.binary(max_size=300))
def test_any_bytes_on_any_topic(payload):
    for key, schema in EVENT_SCHEMAS.items():
        check_verdict(key, *schema.parse(payload))


def test_every_valid_event_stays_valid():
    for key, events in VALID.items():
        for event in events:
            assert EVENT_SCHEMAS[key].validate(event) == [], (key, event)


@PROPERTY
@given(st.lists(st.tuples(payloads(), st.booleans()), max_size=25))
def test_a_batch_of_anything_splits_into_bronze_and_quarantine(items):
    """Every record lands once: in its topic's bronze table, typed to the table's schema, or in
    the quarantine with its reason (also a record on a topic with no schema)."""
    topics = [TOPICS[key] if known else "unknown-topic" for (key, _), known in items]
    values = [payload for (_, payload), _ in items]
    rows = len(items)
    batch = pa.RecordBatch.from_pydict(
        {"key": [b"k"] * rows, "value": values, "topic": topics, "partition": [0] * rows,
         "offset": list(range(rows)), "timestamp": [INGESTED] * rows,
         "timestampType": [0] * rows},
        schema=KAFKA_RECORD,
    )  # fmt: skip
    split = SplitRecords({name: key for key, name in TOPICS.items()}, INGESTED)(batch)
    quarantine = split[QUARANTINE.name]
    assert quarantine.schema.names == QUARANTINE.schema.names
    assert all(quarantine.column("reason").to_pylist())
    landed = sorted(quarantine.column("kafka_offset").to_pylist())
    for key, table in BRONZE_TABLES.items():
        if table.name in split:
            rows_of = split[table.name]
            assert rows_of.schema == table.schema
            assert set(rows_of.column("kafka_topic").to_pylist()) <= {TOPICS[key]}
            landed += rows_of.column("kafka_offset").to_pylist()
    assert sorted(landed) == list(range(len(items)))
