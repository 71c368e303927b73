"""Event schemas for the Kafka topics, defined once.

Each `EventSchema` yields the Arrow (and so Spark and Delta) schema of its bronze table and the
validator that `bronze_ingest` and the producers use: a record is valid when every field has its
type and obeys its rules, and an invalid one gets every broken rule as its reason.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import pyarrow as pa

# The columns of a Kafka record in Spark's `kafka` source, as Arrow (what the jobs' Arrow UDFs
# receive).
KAFKA_RECORD = pa.schema(
    [
        ("key", pa.binary()),
        ("value", pa.binary()),
        ("topic", pa.string()),
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("timestampType", pa.int32()),
    ]
)

PAYLOAD_NOT_UTF8 = "payload is not valid UTF-8"
NOT_AN_OBJECT = "payload is not a JSON object"

FieldType = Literal["string", "long", "int", "double", "boolean", "timestamp"]
_INTEGER_RANGE = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


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
    added_later: bool = False  # optional, new since the topic's table was first made
    _regex: re.Pattern | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", re.compile(self.pattern) if self.pattern else None)

    def coerce(self, value: Any) -> tuple[Any, str | None]:
        """(the value in its type, None) when valid, else (None, the reason)."""
        if value is None:
            return None, (f"{self.name}: required" if self.required else None)
        typed = _typed(self.type, value)
        if typed is None:
            return None, f"{self.name}: not a valid {self.type}"
        if self.allowed is not None and typed not in self.allowed:
            return None, f"{self.name}: not one of {','.join(self.allowed)}"
        if self.minimum is not None and typed < self.minimum:
            return None, f"{self.name}: below {self.minimum:g}"
        if self.maximum is not None and typed > self.maximum:
            return None, f"{self.name}: above {self.maximum:g}"
        if self._regex is not None and not self._regex.fullmatch(typed):
            return None, f"{self.name}: does not match {self.pattern}"
        return typed, None


def _typed(kind: FieldType, value: Any) -> Any:
    """`value` (decoded JSON) as `kind`, or None when it is not one."""
    if kind == "string":
        return value if isinstance(value, str) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind in _INTEGER_RANGE:
        low, high = _INTEGER_RANGE[kind]
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        return value if ok else None
    if kind == "double":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return float(value) if ok and math.isfinite(value) else None
    if kind == "timestamp":
        if not isinstance(value, str):
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        # A time without an offset is UTC, as everywhere in brandlake.
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    raise AssertionError(kind)


@dataclass(frozen=True)
class EventSchema:
    """A Kafka topic's event: its fields, which one carries event time, and rules across
    fields (`checks`: each returns the reason a record with valid fields breaks it, or None)."""

    topic: str
    fields: tuple[EventField, ...]
    event_time: str
    doc: str = ""
    checks: tuple[Callable[[dict], str | None], ...] = ()
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(f.name for f in self.fields))

    def parse(self, payload: bytes | None) -> tuple[dict | None, list[str]]:
        """Decode a Kafka value into typed fields; (record, []) when valid, else (None, reasons)."""
        try:
            decoded = json.loads((payload or b"").decode("utf-8"))
        except UnicodeDecodeError:
            return None, [PAYLOAD_NOT_UTF8]
        except ValueError:
            return None, [NOT_AN_OBJECT]
        return self.coerce(decoded)

    def coerce(self, decoded: Any) -> tuple[dict | None, list[str]]:
        """A decoded JSON value as typed fields; (record, []) when valid, else (None, reasons)."""
        if not isinstance(decoded, dict):
            return None, [NOT_AN_OBJECT]
        record, reasons = {}, []
        for spec in self.fields:
            value, reason = spec.coerce(decoded.get(spec.name))
            if reason:
                reasons.append(reason)
            record[spec.name] = value
        if not reasons:
            reasons = [why for check in self.checks if (why := check(record))]
        return (None, reasons) if reasons else (record, [])

    def validate(self, decoded: Any) -> list[str]:
        """The reasons a decoded JSON value is not a valid event; empty when it is."""
        return self.coerce(decoded)[1]


_ID = r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}"
_EVENT_ID = EventField("event_id", "string", pattern=_ID, doc="unique id of the event")
_STREAM_ID = EventField("stream_id", "string", pattern=_ID, doc="live stream the event belongs to")

# A stream's renditions: what ingest wrote, and the privacy rendition (jobs/privacy_rendition.py)
RENDITIONS = ("source", "blurred")

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
        EventField(
            "rendition",
            "string",
            allowed=RENDITIONS,
            required=False,
            added_later=True,
            doc="which rendition: source (the default) or blurred (faces blurred)",
        ),
    ),
)

_NEW = {"required": False, "added_later": True}  # optional fields added to a topic's table later
# Where a request came from, as the ad server and the beacon collector see it
_CLIENT = (
    EventField("ip_hash", "string", pattern=_ID, **_NEW, doc="keyed hash of the client's IP"),
    EventField("network", "string", allowed=("residential", "mobile", "datacenter"), **_NEW,
               doc="the IP's network class, from the IP lookup"),
)  # fmt: skip

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
        *_CLIENT,
    ),
)

PLAYER_EVENT_TYPES = (
    "session_start",  # the player loaded: a viewing attempt
    "play",  # the first frame showed (startup_ms), or playback resumed
    "heartbeat",  # every few seconds while the session lives
    "pause",
    "buffering",  # (older players) a stall, without its length
    "rebuffer_start",
    "rebuffer_end",  # with rebuffer_ms
    "bitrate_switch",  # bitrate_kbps is the new one
    "error",  # a fatal error: the session ends
    "session_end",
    "ad_complete",  # an ad (impression_id) played to its end
)

VIEWER_EVENTS = EventSchema(
    topic="viewer_events",
    event_time="event_time",
    doc="What a viewer's player did: its session's beacons, and clicks on ads.",
    fields=(
        _EVENT_ID,
        EventField("event_time", "timestamp", doc="the player's clock"),
        _STREAM_ID,
        EventField("viewer_id", "string", pattern=_ID),
        EventField("event_type", "string", allowed=(*PLAYER_EVENT_TYPES, "click")),
        EventField("position_s", "double", minimum=0, doc="seconds watched since the first frame"),
        EventField("bitrate_kbps", "int", minimum=0, maximum=1_000_000),
        EventField("campaign_id", "string", required=False, pattern=_ID, doc="set on clicks"),
        EventField(
            "impression_id",
            "string",
            required=False,
            pattern=_ID,
            doc="set on clicks and ad_complete: the impression (its auction id), as a click URL "
            "or the player's completion beacon carries it",
            added_later=True,
        ),
        EventField("session_id", "string", pattern=_ID, **_NEW,
                   doc="one player session (older players send none)"),
        EventField("startup_ms", "int", minimum=0, maximum=600_000, **_NEW,
                   doc="on a session's first play: load to first frame"),
        EventField("rebuffer_ms", "int", minimum=0, maximum=3_600_000, **_NEW,
                   doc="on rebuffer_end: how long playback stalled"),
        EventField("error_code", "string", pattern=_ID, **_NEW, doc="on error"),
        EventField("device", "string", allowed=("mobile", "desktop", "tv", "tablet"), **_NEW),
        EventField("geo", "string", pattern=r"[A-Z]{2}", **_NEW, doc="ISO 3166-1 alpha-2"),
        EventField("cdn", "string", pattern=_ID, **_NEW, doc="the CDN the player streams from"),
        *_CLIENT,
    ),
)  # fmt: skip

_CPM = {"minimum": 0, "maximum": 10_000}
_PRICE_SLACK = 1e-6


def _filled_at_a_valid_price(auction: dict) -> str | None:
    """A filled auction cleared between its floor and its top bid; an unfilled one did not."""
    top, floor, clearing = auction["top_bid_cpm"], auction["floor_cpm"], auction["clearing_cpm"]
    if not auction["filled"]:
        return (
            "clearing_cpm: set on an auction that was not filled" if clearing is not None else None
        )
    if top is None or floor is None or clearing is None:
        return "filled: needs top_bid_cpm, floor_cpm and clearing_cpm"
    if top < floor - _PRICE_SLACK:
        return "filled: the top bid is under the floor"
    if not floor - _PRICE_SLACK <= clearing <= top + _PRICE_SLACK:
        return "clearing_cpm: outside the floor .. top bid range"
    return None


def _bids_in_order(auction: dict) -> str | None:
    top, second = auction["top_bid_cpm"], auction["second_bid_cpm"]
    if second is not None and (top is None or second > top + _PRICE_SLACK):
        return "second_bid_cpm: above top_bid_cpm"
    return None


AUCTIONS = EventSchema(
    topic="auctions",
    event_time="event_time",
    doc="An ad auction as the ad server logs it: context, arm, floor, top two bids, outcome.",
    checks=(_filled_at_a_valid_price, _bids_in_order),
    fields=(
        _EVENT_ID,
        EventField("event_time", "timestamp", doc="when the auction ran"),
        _STREAM_ID,
        EventField("viewer_id", "string", pattern=_ID),
        EventField(
            "slot_type", "string", allowed=("preroll", "midroll", "overlay", "sponsor_card")
        ),
        EventField("device", "string", allowed=("mobile", "desktop", "tv", "tablet")),
        EventField("geo", "string", pattern=r"[A-Z]{2}"),
        EventField("scene_label", "string", required=False, pattern=r"[a-z_]+"),
        EventField("safety_score", "double", required=False, minimum=0, maximum=1),
        EventField(
            "brands_on_screen",
            "string",
            required=False,
            pattern=r"(?:[A-Za-z0-9._:-]+(?:,[A-Za-z0-9._:-]+)*)?",
            doc="brand ids on screen, comma-separated",
        ),
        EventField("arm", "string", allowed=("treatment", "holdout"), doc="the yield experiment's"),
        EventField("floor_cpm", "double", required=False, **_CPM, doc="the floor applied"),
        EventField("floor_rule", "string", required=False, pattern=_ID, doc="its rule, or static"),
        EventField("floor_version", "string", required=False, pattern=_ID),
        EventField("bidders", "int", minimum=0, maximum=10_000),
        EventField("top_campaign_id", "string", required=False, pattern=_ID),
        EventField("top_bid_type", "string", required=False, allowed=("cpm", "cpc")),
        EventField("top_bid_cpm", "double", required=False, **_CPM, doc="highest eCPM"),
        EventField("second_bid_cpm", "double", required=False, **_CPM),
        EventField(
            "predicted_ctr",
            "double",
            required=False,
            minimum=0,
            maximum=1,
            doc="the CTR the ad server ranked a cpc top bid with",
        ),
        EventField("ctr_model_version", "string", required=False, pattern=_ID),
        EventField("filled", "boolean"),
        EventField("clearing_cpm", "double", required=False, **_CPM, doc="price paid, CPM"),
        EventField("currency", "string", pattern=r"[A-Z]{3}"),
    ),
)

EVENT_SCHEMAS: dict[str, EventSchema] = {
    s.topic: s for s in (SEGMENTS, IMPRESSIONS, VIEWER_EVENTS, AUCTIONS)
}
