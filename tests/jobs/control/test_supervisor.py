"""Ingest started and stopped from the control plane: the requests in `ops.stream_control`
(real Delta), and the supervisor running real `brandlake ingest` processes (real ffmpeg, the
real broker and Redis)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from infra.local.services import free_port
from jobs.common.lake import OpenTables
from jobs.control.modes import ControlError
from jobs.control.streams import main as streams_main
from jobs.control.streams import stream_states
from jobs.control.supervisor import (
    ENDED,
    START,
    STOP,
    Supervisor,
    ingest_command,
    ingest_states,
    latest_requests,
    request_start,
    request_stop,
)
from jobs.ingest.ffmpeg import PLAYLIST
from jobs.ingest.playlist import read_playlist
from tests.jobs.ingest.test_ingest import announced, publish_rtmp
from tests.media import shared_video
from tests.support import read_table, set_args

STREAM = "arena-live"  # a catalog stream: requests are for catalog streams


def test_requests_are_checked_and_the_latest_per_stream_wins(tmp_path, monkeypatch):
    from jobs.common.config import load_settings

    monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))
    settings = load_settings()
    video = tmp_path / "match.mp4"
    video.write_bytes(b"not checked here: ingest reads it")
    with pytest.raises(ControlError, match=r"no stream 'nope'"):
        request_stop(settings, "nope", "x")
    with pytest.raises(ControlError, match="no such video file"):
        request_start(settings, STREAM, {"kind": "file", "path": str(tmp_path / "gone.mp4")}, "x")
    with pytest.raises(ControlError, match="a file or rtmp"):
        request_start(settings, STREAM, {"kind": "srt"}, "x")
    assert latest_requests(OpenTables(settings)) == {}

    request_start(settings, STREAM, {"kind": "file", "path": str(video), "loop": True}, "alice")
    request_start(settings, "studio-talk", {"kind": "rtmp", "listen": None}, "bob")
    request_stop(settings, STREAM, "carol")
    latest = latest_requests(OpenTables(settings))
    assert {s: (r.action, r.requested_by) for s, r in latest.items()} == {
        STREAM: (STOP, "carol"), "studio-talk": (START, "bob")
    }  # fmt: skip
    rtmp_command = ingest_command("studio-talk", latest["studio-talk"].source, ["--set", "a=b"])
    assert rtmp_command[-5:] == ["rtmp", "--stream-id", "studio-talk", "--set", "a=b"]
    file_command = ingest_command(STREAM, {"kind": "file", "path": str(video), "loop": True}, [])
    assert file_command[-5:] == ["file", str(video), "--stream-id", STREAM, "--loop"]


@pytest.mark.services
def test_the_supervisor_starts_stops_and_records_ingest_as_asked(isolated_settings):
    """A file played through is recorded as ended and not replayed by the next supervisor; a
    looped file runs until a stop, which closes its playlist whole; a supervisor that stops
    leaves the request standing, and the next one resumes it."""
    settings = isolated_settings()
    video = shared_video()
    supervisor = Supervisor(settings, set_args(settings))
    landing = Path(settings.landing_uri(STREAM))
    try:
        request_start(settings, STREAM, {"kind": "file", "path": str(video)}, "alice")
        supervisor.reconcile()
        assert ingest_states(settings)[1][STREAM]["requested_by"] == "alice"
        wait(lambda: supervisor.running[STREAM].process.poll() is not None, "the file to end")
        supervisor.reconcile()
        assert STREAM not in supervisor.running and STREAM not in ingest_states(settings)[1]
        ended = latest_requests(OpenTables(settings))[STREAM]
        assert (ended.action, ended.value, ended.requested_by) == (ENDED, "finished", "supervisor")
        whole_file = announced(settings)
        assert len(whole_file) >= 7
        Supervisor(settings, set_args(settings)).reconcile()  # a new supervisor: nothing to do
        assert announced(settings) == whole_file

        looped = {"kind": "file", "path": str(video), "loop": True, "realtime": True}
        request_start(settings, STREAM, looped, "bob")
        supervisor.reconcile()
        first_pid = supervisor.running[STREAM].process.pid
        supervisor.stop_all()  # the supervisor stops (a deploy, a crash): the request stands
        assert ingest_states(settings)[1] == {}
        supervisor = Supervisor(settings, set_args(settings))
        supervisor.reconcile()
        assert supervisor.running[STREAM].process.pid != first_pid
        states = {s["stream_id"]: s for s in stream_states(settings)}
        assert "(loop, realtime)" in states[STREAM]["ingest"]
        playing = len(whole_file)
        wait(lambda: len(announced(settings)) >= playing + 2, "two looped segments")
        process = supervisor.running[STREAM].process
        request_stop(settings, STREAM, "carol")
        supervisor.reconcile()
        assert process.returncode == 130 and STREAM not in supervisor.running
    finally:
        supervisor.stop_all()
    entries, closed = read_playlist(landing / PLAYLIST)
    assert closed and all((landing / e.filename).stat().st_size > 0 for e in entries)
    sequences = [e["sequence"] for e in announced(settings)]
    assert sequences == list(range(len(sequences)))  # none lost, none twice, across restarts
    audit = read_table(settings, "ops.stream_control").to_pylist()
    audit.sort(key=lambda r: r["requested_at"])
    assert [(r["action"], r["requested_by"]) for r in audit] == [
        (START, "alice"), (ENDED, "supervisor"), (START, "bob"), (STOP, "carol")
    ]  # fmt: skip


@pytest.mark.services
def test_a_supervised_rtmp_listener_ingests_a_publisher_until_stopped(isolated_settings):
    settings = isolated_settings()
    url = f"rtmp://127.0.0.1:{free_port()}/live/{STREAM}"
    supervisor = Supervisor(settings, set_args(settings))
    try:
        request_start(settings, STREAM, {"kind": "rtmp", "listen": url}, "erin")
        supervisor.reconcile()
        publish_rtmp(shared_video(), url, 5)  # the listener waits for its next publisher after
        wait(lambda: len(announced(settings)) >= 2, "segments from the publisher")
        supervisor.reconcile()
        assert supervisor.running[STREAM].process.poll() is None  # still listening
        process = supervisor.running[STREAM].process
        request_stop(settings, STREAM, "erin")
        supervisor.reconcile()
        assert process.returncode == 130
    finally:
        supervisor.stop_all()
    sequences = [e["sequence"] for e in announced(settings)]
    assert sequences == list(range(len(sequences)))


@pytest.mark.services
def test_the_command_says_when_no_supervisor_will_apply_a_request(isolated_settings, capsys):
    settings = isolated_settings()
    streams_main(["start", STREAM, "--rtmp", "--by", "dave", *set_args(settings)])
    said = capsys.readouterr().out
    assert "ingest of rtmp (ingest.listen) requested" in said
    assert "no supervisor is running" in said
    with pytest.raises(SystemExit, match="no such video file"):
        streams_main(["start", STREAM, "--file", "/nowhere.mp4", *set_args(settings)])


def wait(condition, what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"no {what} in {timeout_s} s"
        time.sleep(0.2)
