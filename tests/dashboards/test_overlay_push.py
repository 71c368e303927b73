"""Detections pushed to players (Server-Sent Events from the media server): every player of a
stream gets every frame of it, in order, soon after frame_analysis published it, and nothing of
other streams; the token guards the events as it guards the rest."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest

from dashboards import media_server
from tests.support import produce

pytestmark = pytest.mark.services


class Listener:
    """A player's EventSource, reduced to a socket: the frames it received and when."""

    def __init__(self, url: str) -> None:
        host, port = url.split("//")[1].split("/")[0].split(":")
        path = "/" + url.split("//")[1].split("/", 1)[1]
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        self.frames: list[tuple[float, dict]] = []  # (received epoch ms, event)
        self.status = b""
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        buffer = b""
        try:
            while chunk := self.sock.recv(65536):
                buffer += chunk
                if not self.status and b"\r\n" in buffer:
                    self.status = buffer.split(b"\r\n", 1)[0]
                while b"\n\n" in buffer:
                    event, buffer = buffer.split(b"\n\n", 1)
                    for line in event.split(b"\n"):
                        if line.startswith(b"data: "):
                            self.frames.append((time.time() * 1000, json.loads(line[6:])))
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()


def frame_message(stream: str, n: int) -> bytes:
    return json.dumps({
        "frame_id": f"{stream}-seg-{n}", "stream_id": stream, "segment_id": f"{stream}-seg",
        "sequence": 0, "frame_time": "2026-12-03T12:00:00+00:00",
        "frame_epoch_ms": 1_796_299_200_000 + n * 500, "pts_s": n * 0.5, "interval_s": 0.5,
        "refined": False, "person_count": 1, "scene_label": "sports", "safety_score": 0.9,
        "models": "m", "brands": [{"brand_id": "fizzco", "confidence": 0.91234,
                                   "box": [0.1, 0.2, 0.3, 0.4], "area_share": 0.04,
                                   "detection_id": f"d{n}"}] if n % 2 == 0 else [],
    }).encode()  # fmt: skip


def wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what() if callable(what) else what
        time.sleep(0.05)


def test_every_player_of_a_stream_gets_each_frame_in_order_soon_after_it_is_published(lake_env):
    settings = lake_env()
    server = media_server.start(settings, port=0)
    push = server.server.push
    stream, other = f"push-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    players = []
    try:
        assert push.ready.wait(60), "the detections reader got no partitions"
        players = [Listener(f"{server.url}/events/{stream}") for _ in range(20)]
        bystander = Listener(f"{server.url}/events/{other}-quiet")
        wait_until(lambda: push.players == 21, 10, "players attached")
        for n in range(30):
            produce(settings, "detections", [frame_message(stream, n), frame_message(other, n)])
            time.sleep(0.05)
        wait_until(
            lambda: all(len(p.frames) == 30 for p in players),
            30,
            lambda: f"every frame: {[len(p.frames) for p in players]}, {push.players}",
        )
        latencies = []
        for player in players:
            assert player.status.startswith(b"HTTP/1.0 200")
            assert [f["frame_id"] for _, f in player.frames] == [
                f"{stream}-seg-{n}" for n in range(30)
            ]
            latencies += [received - f["published_ms"] for received, f in player.frames]
        first = players[0].frames[0][1]
        assert first["t"] == 1_796_299_200_000 and first["boxes"] == [
            {"kind": "brand", "label": "fizzco", "confidence": 0.912,
             "x1": 0.1, "y1": 0.2, "x2": 0.3, "y2": 0.4}
        ]  # fmt: skip
        assert players[0].frames[1][1]["boxes"] == []  # nothing on screen: the overlay clears
        latencies.sort()
        p95 = latencies[int(0.95 * len(latencies))]
        print(f"\n20 players x 30 frames: delivery p50 {latencies[len(latencies) // 2]:.0f} ms, "
              f"p95 {p95:.0f} ms after publishing")  # fmt: skip
        assert p95 < 500
        assert bystander.frames == []
        for player in players[:10]:
            player.close()
        produce(settings, "detections", [frame_message(stream, 30)])
        wait_until(lambda: push.players == 11, 10, "players that left are dropped")
    finally:
        for player in players:
            player.close()
        server.stop()


def test_events_want_the_token_like_everything_else(lake_env, monkeypatch):
    monkeypatch.setenv("BRANDLAKE_DASHBOARD__AUTH_TOKEN", "s3cret")
    server = media_server.start(lake_env(), port=0)
    try:
        with pytest.raises(HTTPError) as refused:
            urlopen(f"{server.url}/events/arena-live", timeout=10)
        assert refused.value.code == 401
        admitted = Listener(f"{server.url}/events/arena-live?token=s3cret")
        wait_until(lambda: admitted.status, 10, "an answer")
        assert admitted.status.startswith(b"HTTP/1.0 200")
        admitted.close()
    finally:
        server.stop()
