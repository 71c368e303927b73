"""The Python validator of the event schemas."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from schemas.events import IMPRESSIONS, NOT_AN_OBJECT, PAYLOAD_NOT_UTF8, SEGMENTS, VIEWER_EVENTS

SEGMENT = {
    "event_id": "seg-arena-live-42",
    "stream_id": "arena-live",
    "sequence": 42,
    "uri": "file:///lake/landing/arena-live/seg_00042.ts",
    "start_time": "2026-11-22T10:00:04Z",
    "duration_s": 2.0,
    "width": 1280,
    "height": 720,
    "fps": 30.0,
    "codec": "h264",
    "bytes": 812345,
}


def test_a_valid_segment_has_no_reasons():
    assert SEGMENTS.validate(SEGMENT) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"sequence": None}, "sequence: required"),
        ({"sequence": 4.5}, "sequence: not a valid long"),
        ({"sequence": True}, "sequence: not a valid long"),
        ({"sequence": -1}, "sequence: below 0"),
        ({"start_time": "yesterday"}, "start_time: not a valid timestamp"),
        ({"fps": "30"}, "fps: not a valid double"),
        ({"width": 20000}, "width: above 16384"),
        ({"codec": "H 264"}, "codec: does not match [a-z0-9_.-]+"),
    ],
)
def test_each_rule_has_its_reason(change, reason):
    assert SEGMENTS.validate({**SEGMENT, **change}) == [reason]


def test_optional_fields_may_be_missing_and_enums_are_checked():
    event = {
        "event_id": "e1",
        "event_time": "2026-11-22T10:00:00.5+00:00",
        "stream_id": "s",
        "viewer_id": "v",
        "event_type": "heartbeat",
        "position_s": 1.5,
        "bitrate_kbps": 3000,
    }
    assert VIEWER_EVENTS.validate(event) == []
    (why,) = VIEWER_EVENTS.validate({**event, "event_type": "rewind"})
    assert why.startswith("event_type: not one of session_start,play,heartbeat,")
    assert VIEWER_EVENTS.validate({**event, "startup_ms": -1}) == ["startup_ms: below 0"]


def test_parse_reports_bytes_that_are_not_an_event():
    assert IMPRESSIONS.parse(b"\xff\xfe{}") == (None, [PAYLOAD_NOT_UTF8])
    assert IMPRESSIONS.parse(b'{"event_id": ') == (None, [NOT_AN_OBJECT])
    assert IMPRESSIONS.parse(b"[1, 2]") == (None, [NOT_AN_OBJECT])
    record, reasons = SEGMENTS.parse(json.dumps(SEGMENT).encode())
    assert reasons == []
    assert record == {
        **SEGMENT,
        "start_time": datetime(2026, 11, 22, 10, 0, 4, tzinfo=UTC),
        "rendition": None,
    }  # optional: absent is the source rendition


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22T10:00:00.5+02:00", datetime(2026, 11, 22, 8, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-22 10:00:00", datetime(2026, 11, 22, 10, 0, tzinfo=UTC)),
    ],
)
def test_timestamps_are_normalised_to_utc(text, expected):
    record, _ = SEGMENTS.coerce({**SEGMENT, "start_time": text})
    assert record["start_time"] == expected


def test_integers_must_fit_their_type():
    assert SEGMENTS.validate({**SEGMENT, "width": 2**31}) == ["width: not a valid int"]
    assert SEGMENTS.validate({**SEGMENT, "sequence": 2**63}) == ["sequence: not a valid long"]
    assert SEGMENTS.validate({**SEGMENT, "codec": 5}) == ["codec: not a valid string"]


def test_several_problems_are_all_reported():
    reasons = SEGMENTS.validate({**SEGMENT, "width": 0, "height": None})
    assert reasons == ["width: below 1", "height: required"]
