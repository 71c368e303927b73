"""privacy_rendition end to end: segment events of a stream asking for `face_blur` -> blurred
segments beside the source, their playlist, ops.renditions and their own events; other streams,
other renditions and broken segments are left out (the broken ones quarantined)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta

import av
import pytest

from jobs.ingest.playlist import read_playlist
from jobs.ingest.storage import spool_dir
from jobs.privacy_rendition import playlist, run
from tests.media import face_clip
from tests.support import isolated, produce, read_table, segment_event, topic_values
from udfs.effects.faces import FaceBlur

pytestmark = pytest.mark.spark
T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_faces_are_blurred_in_a_second_rendition(stack, tmp_path, spark):
    settings = isolated(stack, tmp_path)
    landing = spool_dir(settings, "studio-talk")
    landing.mkdir(parents=True)
    first = face_clip(landing / "seg_000000.ts", offset_s=1.4)
    second = shutil.copy(first, landing / "seg_000001.ts")
    broken = landing / "seg_000002.ts"
    broken.write_bytes(b"\x47" + bytes(4000))
    arena = tmp_path / "seg_000000.ts"
    shutil.copy(first, arena)
    events = [segment_event("studio-talk", n, str(path), T0 + timedelta(seconds=2 * n))
              for n, path in enumerate((first, second, broken))]  # fmt: skip
    events.append(segment_event("arena-live", 0, str(arena), T0))  # no face_blur asked
    already = json.loads(segment_event("studio-talk", 1, str(second), T0))
    events.append(json.dumps({**already, "event_id": "x-blurred", "rendition": "blurred"}).encode())
    produce(settings, "segments", events)

    run(settings, available_now=True)
    rows = sorted(read_table(settings, "ops.renditions").to_pylist(), key=lambda r: r["sequence"])
    assert [(r["stream_id"], r["sequence"]) for r in rows] == [
        ("studio-talk", 0),
        ("studio-talk", 1),
    ]
    assert all(r["frames"] == 60 and r["faces"] >= 18 for r in rows)
    blurred = landing / "blurred"
    for row in rows:
        path = blurred / f"seg_{row['sequence']:06d}.ts"
        assert row["uri"] == path.as_uri()
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
        assert FaceBlur().faces(frame) == []
    entries, ended = read_playlist(blurred / "index.m3u8")
    assert [(e.sequence, e.start_time) for e in entries] == [
        (0, T0),
        (1, T0 + timedelta(seconds=2)),
    ]
    assert not ended  # the stream may go on
    (reason,) = [r["reason"] for r in read_table(settings, "bronze.quarantine").to_pylist()]
    assert reason.startswith("undecodable segment, not rendered:") and "seg_000002" in reason
    announced = [json.loads(v) for v in topic_values(settings, "segments")]
    renditions = [
        e for e in announced if e.get("rendition") == "blurred" and e["event_id"] != "x-blurred"
    ]
    assert sorted(e["event_id"] for e in renditions) == [
        "studio-talk-0-blurred",
        "studio-talk-1-blurred",
    ]
    # again from the checkpoint: nothing rendered, written or announced twice
    run(settings, available_now=True)
    assert read_table(settings, "ops.renditions").num_rows == 2
    assert len(topic_values(settings, "segments")) == len(announced)


def test_frame_analysis_leaves_other_renditions_alone():
    from jobs.frame_analysis import AnalyseSegments

    event = json.loads(segment_event("studio-talk", 1, "/l/seg_000001.ts", T0))
    analyse = AnalyseSegments(None, {}, None, 1, T0)
    blurred = json.dumps({**event, "rendition": "blurred"}).encode()
    assert analyse._analyse("segments", blurred, {}, {}) == ("segments", None, [])


def test_a_gap_in_the_rendition_is_a_discontinuity():
    rows = [{"sequence": n, "uri": f"file:///b/seg_{n:06d}.ts", "duration_s": 2.0,
             "start_time": T0 + timedelta(seconds=2 * n)} for n in (4, 5, 7)]  # fmt: skip
    text = playlist(rows)
    assert "#EXT-X-MEDIA-SEQUENCE:4" in text and "#EXT-X-TARGETDURATION:2" in text
    assert text.count("#EXT-X-DISCONTINUITY") == 1
    assert (
        text.index("seg_000005.ts") < text.index("#EXT-X-DISCONTINUITY") < text.index("seg_000007")
    )
