"""exposure_revenue's pieces without Spark: minutes a batch touches, the replace predicate and
the watermarks, with hand-computed values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from jobs.common.config import load_settings
from jobs.exposure_revenue import Watermarks, replace_predicate, touched_minutes

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
SETTINGS = load_settings()  # 2 fps, gap tolerance 1 s, frame max age 2 s


def times(streams: list[str], seconds: list[float]) -> pa.Table:
    at = [T0 + timedelta(seconds=s) for s in seconds]
    return pa.table({"stream_id": streams, "time": pa.array(at, pa.timestamp("us", tz="UTC"))})


def test_a_frame_touches_the_minutes_it_can_bridge_into_or_give_context_to():
    # A frame at 0:59.0 can give context to impressions up to 2 s later (minute 1); a frame at
    # 1:01.0 can bridge back 0.5 + 1 s into minute 0.
    ranges = touched_minutes(SETTINGS, {"detections": times(["a", "b"], [59.0, 61.0])})
    assert ranges == {"a": (T0, T0 + timedelta(minutes=1)), "b": (T0, T0 + timedelta(minutes=1))}
    inside = touched_minutes(SETTINGS, {"detections": times(["a"], [30.0])})
    assert inside == {"a": (T0, T0)}


def test_an_impression_or_click_touches_the_minutes_judged_with_it():
    # invalid traffic judges a minute with the rows up to the session timeout (30 s) either side
    for key in ("impressions", "clicks"):
        early = touched_minutes(SETTINGS, {key: times(["a"], [75.0])})
        assert early == {"a": (T0, T0 + timedelta(minutes=1))}
        late = touched_minutes(SETTINGS, {key: times(["a"], [100.0])})
        assert late == {"a": (T0 + timedelta(minutes=1), T0 + timedelta(minutes=2))}


def test_replace_predicate_selects_exactly_the_recomputed_minutes(tmp_path):
    minutes = [T0 + timedelta(minutes=m) for m in range(4)]
    rows = pa.table(
        {
            "stream_id": ["a", "a", "a", "a", "it's", "b"],
            "minute": pa.array([*minutes, minutes[1], minutes[1]], pa.timestamp("us", tz="UTC")),
        }
    )
    write_deltalake(str(tmp_path), rows)
    predicate = replace_predicate({"a": (minutes[1], minutes[2]), "it's": (T0, minutes[1])})
    assert "'it''s'" in predicate  # quotes in a stream id are escaped
    write_deltalake(str(tmp_path), rows.slice(0, 0), mode="overwrite", predicate=predicate)
    left = DeltaTable(str(tmp_path)).to_pyarrow_table().to_pylist()
    assert sorted((r["stream_id"], r["minute"]) for r in left) == [
        ("a", minutes[0]), ("a", minutes[3]), ("b", minutes[1])
    ]  # fmt: skip


def test_watermarks_per_topic_and_stream_only_move_forward():
    marks = Watermarks(lateness_s=120)
    marks.advance("impressions", ["a", "b"], [T0 + timedelta(minutes=5), T0])
    marks.advance("impressions", ["a"], [T0 + timedelta(minutes=1)])  # older: no change
    marks.advance("detections", ["a"], [T0])
    late_before = marks.late_before()
    assert late_before[("impressions", "a")] == T0 + timedelta(minutes=3)
    assert late_before[("impressions", "b")] == T0 - timedelta(minutes=2)
    assert late_before[("detections", "a")] == T0 - timedelta(minutes=2)


def test_watermarks_are_read_back_from_silver(isolated_settings):
    from jobs.common.lake import OpenTables
    from schemas.tables import IMPRESSION_LOG

    settings = isolated_settings()
    rows = [
        {"event_id": f"i{n}", "stream_id": stream, "event_time": T0 + timedelta(seconds=s)}
        for n, (stream, s) in enumerate([("a", 10), ("a", 90), ("b", 30)])
    ]
    table = pa.Table.from_pylist(
        [{c: r.get(c) for c in IMPRESSION_LOG.columns} for r in rows], schema=IMPRESSION_LOG.schema
    )
    write_deltalake(settings.table_uri(IMPRESSION_LOG.name), table)
    marks = Watermarks.from_silver(OpenTables(settings), lateness_s=60)
    assert marks.late_before() == {
        ("impressions", "a"): T0 + timedelta(seconds=30),
        ("impressions", "b"): T0 - timedelta(seconds=30),
    }
