"""Pushed detections at scale: many players connected to one media server for a live stream.

    make bench                       (BENCH_VIEWERS=200 BENCH_VIEWERS_SECONDS=120 by default)

One media server (this process) pushes frames over Server-Sent Events; the viewers run in a
process of their own (tests/perf/viewers_client.py), spread over three streams. Frames are
published on the `detections` topic at a live stream's pace, as frame_analysis publishes them
(2 frames/s per stream). Printed: whether every viewer received every frame of its stream in
order, delivery delay from publishing to receipt (p50, p95, max), the server's memory over the
run (after warm-up, to the end), and, as the baseline run in the same process, the same with
one viewer: the ratio of the p95s says what 200 viewers cost. Goal: every frame to every
viewer, p95 under 500 ms, memory not growing.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid

from dashboards import media_server
from tests.dashboards.test_overlay_push import frame_message
from tests.support import produce

VIEWERS = int(os.environ.get("BENCH_VIEWERS", "200"))
SECONDS = float(os.environ.get("BENCH_VIEWERS_SECONDS", "120"))
FPS = 2.0  # frames per second per stream, as frame_analysis analyses them


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def run(settings, server, viewers: int, seconds: float) -> dict:
    streams = [f"bench-{uuid.uuid4().hex[:6]}" for _ in range(3)]
    client = subprocess.Popen(
        [sys.executable, "-m", "tests.perf.viewers_client", server.url, ",".join(streams),
         str(viewers)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert client.stdout.readline().strip() == "ready"
    memory, started = [], time.monotonic()
    frames = round(seconds * FPS)
    for n in range(frames):
        produce(settings, "detections", [frame_message(stream, n) for stream in streams])
        if n % round(10 * FPS) == 0:
            memory.append(rss_mb())
        time.sleep(max(0.0, started + (n + 1) / FPS - time.monotonic()))
    memory.append(rss_mb())
    time.sleep(3)  # the last frames' way through
    report = json.loads(client.communicate(input="", timeout=120)[0].strip().splitlines()[-1])
    expected = {s: [f"{s}-seg-{n}" for n in range(frames)] for s in streams}
    complete = sum(1 for viewer in report if viewer["frames"] == expected[viewer["stream"]])
    delays = sorted(d for viewer in report for d in viewer["delays"])
    return {
        "viewers": viewers, "complete": complete, "frames": frames * len(streams),
        "seconds": seconds,
        "p50": delays[len(delays) // 2], "p95": delays[int(0.95 * len(delays))],
        "max": delays[-1], "memory": memory,
    }  # fmt: skip


def test_viewers_get_every_frame_pushed_in_time(stack):
    server = media_server.start(stack, port=0)
    try:
        assert server.server.push.ready.wait(60)
        baseline = run(stack, server, 1, min(SECONDS, 20))
        loaded = run(stack, server, VIEWERS, SECONDS)
    finally:
        server.stop()
    for result in (baseline, loaded):
        memory = result["memory"]
        warm = memory[min(1, len(memory) - 1)]
        print(
            f"\n{result['viewers']} viewers x {result['frames']} frames ({result['seconds']:g} s, "
            f"3 streams at {FPS:g} frames/s): {result['complete']}/{result['viewers']} received "
            f"every frame of their stream in order; delivery after publishing p50 "
            f"{result['p50']:.0f} ms, p95 {result['p95']:.0f} ms, max {result['max']:.0f} ms; "
            f"server memory {warm:.0f} MB after warm-up, {memory[-1]:.0f} MB at the end "
            f"(median {statistics.median(memory):.0f} MB)"
        )
    print(f"p95 with {VIEWERS} viewers / with 1: {loaded['p95'] / max(baseline['p95'], 1):.2f}")
    assert loaded["complete"] == VIEWERS
    assert loaded["p95"] < 500
    assert loaded["memory"][-1] < loaded["memory"][min(1, len(loaded["memory"]) - 1)] * 1.2 + 20
