"""Video ingest against real ffmpeg, the real broker and real footage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import pytest
from confluent_kafka import Consumer, TopicPartition

from infra.local.services import free_port
from jobs.common.kafka import bootstrap_servers
from jobs.ingest.ffmpeg import PLAYLIST, ffmpeg_binary
from jobs.ingest.playlist import read_playlist
from jobs.ingest.run import IngestError, ingest
from jobs.ingest.run import main as ingest_main
from schemas.events import SEGMENTS
from tests.media import shared_video
from tests.support import set_args

pytestmark = pytest.mark.services


def announced(settings) -> list[dict]:
    """Every `segments` event on the test's topic, in order."""
    topic = settings.kafka.topics["segments"].name
    consumer = Consumer({"bootstrap.servers": bootstrap_servers(settings), "group.id": "t"})
    partitions = range(settings.kafka.topics["segments"].partitions)
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    events = []
    while messages := consumer.consume(1000, timeout=1.0):
        events += [json.loads(m.value()) for m in messages if m.error() is None]
    consumer.close()
    return sorted(events, key=lambda e: e["sequence"])


def decodable_frames(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_file_ingest_of_real_footage(isolated_settings):
    settings = isolated_settings()
    video = shared_video()
    result = ingest_main(["file", str(video), "--stream-id", "vtest", *set_args(settings)])
    entries, ended = read_playlist(result.landing / PLAYLIST)
    assert ended and [e.sequence for e in entries] == list(range(7))
    events = announced(settings)
    assert [e["sequence"] for e in events] == list(range(7)) == [e.sequence for e in entries]
    total = 0
    for event, entry in zip(events, entries, strict=True):
        assert SEGMENTS.validate(event) == []
        assert event["event_id"] == f"vtest-{entry.sequence:06d}"
        assert (event["width"], event["height"], event["codec"]) == (1280, 720, "h264")
        assert event["fps"] == 25.0  # 341 frames in 13.6 s, whatever the AVI header claims
        path = result.landing / entry.filename
        assert event["uri"] == path.as_uri() and event["bytes"] == path.stat().st_size
        frames = decodable_frames(path)
        assert frames == round(event["duration_s"] * 25)
        total += frames
    assert total == 341
    assert decodable_frames(result.landing / PLAYLIST) == 341  # the playlist plays end to end
    assert abs(sum(e["duration_s"] for e in events) - 341 / 25) < 0.05
    starts = [e["start_time"] for e in events]
    assert starts == sorted(starts)


def test_corrupt_input_is_a_clear_error_and_announces_nothing(isolated_settings, tmp_path):
    settings = isolated_settings()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    with pytest.raises(IngestError, match=r"ffmpeg stopped with code \d+ reading .*broken\.mp4"):
        ingest(settings, "broken", ["-i", str(broken)], transcode=True)
    assert announced(settings) == []
    with pytest.raises(IngestError, match="no such video file"):
        ingest_main(
            ["file", str(tmp_path / "missing.mp4"), "--stream-id", "x", *set_args(settings)]
        )


def test_a_full_disk_stops_ingest_before_it_starts(isolated_settings):
    settings = isolated_settings(ingest__min_free_mb=10**9)
    with pytest.raises(IngestError, match=r"MB free under .* below ingest\.min_free_mb=1000000000"):
        ingest(settings, "full", ["-i", str(shared_video())], transcode=True)


def publish_rtmp(video: Path, url: str, seconds: int) -> None:
    """Wait until an ingest listens at `url`, then publish `seconds` of `video` like OBS would
    (real-time, FLV, H.264)."""
    deadline = time.monotonic() + 60  # the listener starts slowly on a busy machine
    while time.monotonic() < deadline:
        done = subprocess.run(
            [
                ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-re",
                "-i", str(video), "-t", str(seconds),
                "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-an",
                "-f", "flv", url,
            ],
            capture_output=True,
            timeout=60,
        )  # fmt: skip
        if done.returncode == 0:
            return
        time.sleep(0.3)
    raise AssertionError(done.stderr.decode())


def test_rtmp_publish_restart_and_sequence_continuity(isolated_settings):
    settings = isolated_settings()
    video = shared_video()
    port = free_port()
    url = f"rtmp://127.0.0.1:{port}/live/arena"

    sessions = []
    for seconds in (5, 5):
        publisher = threading.Thread(target=publish_rtmp, args=(video, url, seconds))
        publisher.start()
        sessions.append(ingest(settings, "arena", ["-listen", "1", "-i", url], transcode=False))
        publisher.join()
    events = announced(settings)
    sequences = [e["sequence"] for e in events]
    assert sequences == list(range(len(sequences))) and len(sequences) >= 4
    assert sessions[1].last_sequence == sequences[-1] > sessions[0].last_sequence
    assert len({e["event_id"] for e in events}) == len(events)
    entries, _ = read_playlist(sessions[1].landing / PLAYLIST)
    assert [e.sequence for e in entries] == sequences
    for entry in entries:
        assert decodable_frames(sessions[1].landing / entry.filename) > 0


def test_file_ingest_of_a_generated_sample(isolated_settings, tmp_path):
    from jobs.sample_media import generate

    settings = isolated_settings(
        sample_media__seconds=6, sample_media__width=640, sample_media__height=360
    )
    video = generate(settings, tmp_path, name="sample")
    result = ingest(settings, "sample", ["-i", str(video)], transcode=True)
    events = announced(settings)
    assert [e["sequence"] for e in events] == [0, 1, 2]
    assert all((e["width"], e["height"], e["fps"]) == (640, 360, 30.0) for e in events)
    assert all(e["duration_s"] == 2.0 for e in events)
    frames = [decodable_frames(result.landing / f"seg_{e['sequence']:06d}.ts") for e in events]
    assert frames == [60, 60, 60]


def test_a_killed_ingest_resumes_without_losing_or_repeating_segments(isolated_settings, tmp_path):
    """SIGKILL `brandlake ingest` (and its ffmpeg) mid-file, run it again: the segments are
    announced once each, and the new run's segments continue the sequence."""
    settings = isolated_settings()
    video = shared_video()
    args = ["ingest", "file", str(video), "--stream-id", "cam", *set_args(settings)]
    log = open(tmp_path / "ingest.log", "wb")  # noqa: SIM115 - closed when the test ends
    first = subprocess.Popen(
        [sys.executable, "-m", "jobs.cli", *args, "--realtime"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    landing = Path(settings.landing_uri("cam"))
    deadline = time.monotonic() + 60
    while len(read_playlist(landing / PLAYLIST)[0]) < 3:
        assert first.poll() is None and time.monotonic() < deadline, (
            tmp_path / "ingest.log"
        ).read_text()
        time.sleep(0.1)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    before = announced(settings)
    assert 1 <= len(before) < 7  # killed mid-file

    second = subprocess.run(
        [sys.executable, "-m", "jobs.cli", *args], capture_output=True, timeout=120
    )
    assert second.returncode == 0, second.stderr.decode()[-2000:]
    events = announced(settings)
    sequences = [e["sequence"] for e in events]
    assert sequences == list(range(len(sequences)))
    entries, ended = read_playlist(landing / PLAYLIST)
    assert ended and [e.sequence for e in entries] == sequences
    assert len(sequences) > len(before)


def test_a_crash_between_kafka_ack_and_state_file_announces_nothing_twice(isolated_settings):
    """The window the kill test can only hit by luck, made certain: the state file is one
    segment behind what Kafka acknowledged."""
    from jobs.ingest.announcer import STATE_FILE, SegmentAnnouncer
    from jobs.ingest.storage import segment_store

    settings = isolated_settings()
    result = ingest(settings, "cam", ["-i", str(shared_video()), "-t", "5"], transcode=True)
    state = result.landing / STATE_FILE
    state.write_text(json.dumps({"last_sequence": result.last_sequence - 1, "unreadable": []}))
    again = SegmentAnnouncer(settings, "cam", result.landing, segment_store(settings))
    assert again.last_sequence == result.last_sequence
    assert again.scan() == []
    assert [e["sequence"] for e in announced(settings)] == list(range(result.last_sequence + 1))


def test_ctrl_c_stops_ingest_with_its_playlist_whole(isolated_settings, tmp_path):
    """Ctrl-C signals ingest and its ffmpeg together; a second SIGINT made ffmpeg abort its
    writes and leave an empty playlist, after which the next run numbered from 0 again (found
    by the chaos soak)."""
    settings = isolated_settings()
    args = ["ingest", "file", str(shared_video()), "--stream-id", "cam", "--realtime", "--loop"]
    with open(tmp_path / "ingest.log", "wb") as log:
        running = subprocess.Popen(
            [sys.executable, "-m", "jobs.cli", *args, *set_args(settings)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    landing = Path(settings.landing_uri("cam"))
    deadline = time.monotonic() + 60
    while len(read_playlist(landing / PLAYLIST)[0]) < 2:
        assert running.poll() is None, (tmp_path / "ingest.log").read_text()
        assert time.monotonic() < deadline, "no segments in 60 s"
        time.sleep(0.1)
    os.killpg(running.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    assert running.wait(30) == 130
    assert "Traceback" not in (tmp_path / "ingest.log").read_text()
    entries, ended = read_playlist(landing / PLAYLIST)
    assert ended and len(entries) >= 2
    assert all((landing / e.filename).stat().st_size > 0 for e in entries)
    # the segment ffmpeg closed on the way out is announced too
    assert [e["sequence"] for e in announced(settings)] == [e.sequence for e in entries]


def test_a_playlist_emptied_by_a_crash_never_renumbers_segments(isolated_settings):
    settings = isolated_settings()
    source = ["-i", str(shared_video()), "-t", "5"]
    first = ingest(settings, "cam", source, transcode=True)
    oldest = (first.landing / "seg_000000.ts").read_bytes()
    (first.landing / PLAYLIST).write_text("")  # ffmpeg killed as it rewrote the playlist
    second = ingest(settings, "cam", source, transcode=True)
    assert (first.landing / "seg_000000.ts").read_bytes() == oldest
    sequences = [e["sequence"] for e in announced(settings)]
    assert sequences == list(range(second.last_sequence + 1))
    assert second.last_sequence > first.last_sequence


def test_ffmpeg_numbers_on_after_every_segment_announced_or_on_disk(tmp_path):
    from jobs.ingest.ffmpeg import start_number

    assert start_number(tmp_path, -1) == 0
    for name in ("seg_000004.ts", "seg_000009.ts", "seg_000012.ts.tmp", "index.m3u8"):
        (tmp_path / name).write_bytes(b"")  # an empty playlist: a crash as it was rewritten
    assert start_number(tmp_path, 2) == 10
    assert start_number(tmp_path, 15) == 16
    (tmp_path / PLAYLIST).write_text(
        "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:9\n#EXTINF:2.0,\nseg_000009.ts\n"
    )
    assert start_number(tmp_path, 15) == 0  # ffmpeg appends to the playlist's own numbering
