"""Event schemas for the Kafka topics, defined once.

Each `EventSchema` yields the Spark `StructType` the bronze job parses JSON with, the Arrow
schema of its bronze table, a Python validator (used by producers and tests) and the same rules
as Spark column expressions (used by `bronze_ingest`), so the two can never disagree.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

PAYLOAD_NOT_UTF8 = "payload is not valid UTF-8"
NOT_AN_OBJECT = "payload is not a JSON object"

FieldType = Literal["string", "long", "int", "double", "timestamp"]


@dataclass(frozen=True)
class EventField:
    """One JSON field of an event and the rules a valid value obeys."""

    name: str
    type: FieldType
    required: bool = True
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    doc: str = ""


@dataclass(frozen=True)
class EventSchema:
    """A Kafka topic's event: its fields and which one carries event time."""

    topic: str
    fields: tuple[EventField, ...]
    event_time: str
    doc: str = ""
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(f.name for f in self.fields))

    def parse(self, payload: bytes | None) -> tuple[dict | None, list[str]]:
        """Decode a Kafka value; returns the record and the reasons it is invalid (empty if valid)."""
        try:
            record = json.loads((payload or b"").decode("utf-8"))
        except UnicodeDecodeError:
            return None, [PAYLOAD_NOT_UTF8]
        except ValueError:
            return None, [NOT_AN_OBJECT]
        reasons = self.validate(record)
        return (record if not reasons else None), reasons

    def validate(self, record: Any) -> list[str]:
        """Reasons `record` (a decoded JSON value) is invalid; empty when it is valid."""
        if not isinstance(record, dict):
            return [NOT_AN_OBJECT]
        reasons = []
        for spec in self.fields:
            reason = _check(spec, record.get(spec.name))
            if reason:
                reasons.append(reason)
        return reasons


def _as_text(value: Any) -> str:
    """A JSON value as the text Spark's JSON reader gives a string field (5 -> "5")."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _type_ok(spec: EventField, value: Any) -> bool:
    if spec.type == "string":
        return True
    if spec.type in ("long", "int"):
        return isinstance(value, int) and not isinstance(value, bool)
    if spec.type == "double":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok and math.isfinite(value)
    if spec.type == "timestamp":
        if not isinstance(value, str):
            return False
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    raise AssertionError(spec.type)


def _check(spec: EventField, value: Any) -> str | None:
    if value is None:
        return f"{spec.name}: required" if spec.required else None
    if not _type_ok(spec, value):
        return f"{spec.name}: not a valid {spec.type}"
    if spec.type == "string":
        value = _as_text(value)
    if spec.allowed is not None and value not in spec.allowed:
        return f"{spec.name}: not one of {','.join(spec.allowed)}"
    if spec.minimum is not None and value < spec.minimum:
        return f"{spec.name}: below {spec.minimum:g}"
    if spec.maximum is not None and value > spec.maximum:
        return f"{spec.name}: above {spec.maximum:g}"
    if spec.pattern is not None and not re.fullmatch(spec.pattern, value):
        return f"{spec.name}: does not match {spec.pattern}"
    return None


_ID = r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}"
_EVENT_ID = EventField("event_id", "string", pattern=_ID, doc="unique id of the event")
_STREAM_ID = EventField("stream_id", "string", pattern=_ID, doc="live stream the event belongs to")

SEGMENTS = EventSchema(
    topic="segments",
    event_time="start_time",
    doc="A finished video segment in the lake's landing area.",
    fields=(
        _EVENT_ID,
        _STREAM_ID,
        EventField("sequence", "long", minimum=0, doc="segment number within the stream"),
        EventField("uri", "string", pattern=r"\S+", doc="where the segment file is"),
        EventField("start_time", "timestamp", doc="wall-clock time of the first frame"),
        EventField("duration_s", "double", minimum=0.001, maximum=3600),
        EventField("width", "int", minimum=1, maximum=16384),
        EventField("height", "int", minimum=1, maximum=16384),
        EventField("fps", "double", minimum=0.1, maximum=1000),
        EventField("codec", "string", pattern=r"[a-z0-9_.-]+"),
        EventField("bytes", "long", minimum=0),
    ),
)

IMPRESSIONS = EventSchema(
    topic="impressions",
    event_time="event_time",
    doc="An ad impression served to a viewer of a stream.",
    fields=(
        _EVENT_ID,
        EventField("event_time", "timestamp", doc="when the ad was served"),
        _STREAM_ID,
        EventField("viewer_id", "string", pattern=_ID),
        EventField("campaign_id", "string", pattern=_ID),
        EventField("advertiser_id", "string", pattern=_ID),
        EventField("brand_id", "string", pattern=_ID),
        EventField(
            "slot_type", "string", allowed=("preroll", "midroll", "overlay", "sponsor_card")
        ),
        EventField("bid_cpm", "double", minimum=0, maximum=10_000, doc="bid, per 1000 impressions"),
        EventField("clearing_cpm", "double", minimum=0, maximum=10_000, doc="price paid, CPM"),
        EventField("currency", "string", pattern=r"[A-Z]{3}"),
        EventField("device", "string", allowed=("mobile", "desktop", "tv", "tablet")),
        EventField("geo", "string", pattern=r"[A-Z]{2}", doc="ISO 3166-1 alpha-2 country"),
    ),
)

VIEWER_EVENTS = EventSchema(
    topic="viewer_events",
    event_time="event_time",
    doc="What a viewer's player did.",
    fields=(
        _EVENT_ID,
        EventField("event_time", "timestamp"),
        _STREAM_ID,
        EventField("viewer_id", "string", pattern=_ID),
        EventField(
            "event_type",
            "string",
            allowed=("play", "pause", "heartbeat", "buffering", "click"),
        ),
        EventField("position_s", "double", minimum=0, doc="playback position in the stream"),
        EventField("bitrate_kbps", "int", minimum=0, maximum=1_000_000),
        EventField("campaign_id", "string", required=False, pattern=_ID, doc="set on clicks"),
    ),
)

EVENT_SCHEMAS: dict[str, EventSchema] = {s.topic: s for s in (SEGMENTS, IMPRESSIONS, VIEWER_EVENTS)}
