"""The Live page in a real browser: headless Chromium (Debian's) loads the running dashboard,
the player plays the ingested HLS stream, and the overlay canvas has boxes exactly where the
ground truth has logos at the playing time. Screenshots go to the test's output directory.

The detections are the sample broadcast's ground truth, written to silver.detections at 10 fps
with frame times from the playlist's program date times, as frame_analysis writes them: this
tests the player and its sync, not the detector (tests/e2e/test_sample_broadcast.py does).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.request import urlopen

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest

from infra.local.services import free_port
from jobs.common.kafka import ensure_topics
from jobs.entrypoint import command_settings
from jobs.ingest.run import ingest
from jobs.sample_media import generate
from schemas.tables import DETECTIONS
from tests.dashboards.conftest import write_rows
from tests.support import produce

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium is not installed (`make test` installs it where apt-get may)",
    ),
]
STREAM = "browser-live"
EVERY = 3  # detections on every third frame: 10 fps at 30 fps
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip


def segment_starts(playlist: Path) -> list[datetime]:
    """Each segment's EXT-X-PROGRAM-DATE-TIME, in playlist order."""
    dates = re.findall(r"#EXT-X-PROGRAM-DATE-TIME:(\S+)", playlist.read_text())
    return [datetime.fromisoformat(d) for d in dates]


@pytest.fixture(scope="module")
def broadcast(stack, tmp_path_factory):
    """An 8 s sample ingested as HLS, and its truth as silver.detections; returns the settings,
    truth rows by frame and the frame of each detection time (epoch ms)."""
    tmp = tmp_path_factory.mktemp("browser")
    settings = command_settings(
        {
            "lake.root": str(tmp / "lake"),
            "sample_media.seconds": 8,
            "sample_media.seed": 11,
            **{f"kafka.topics.{k}.name": f"{k}-browser" for k in stack.kafka.topics},
        }
    )
    ensure_topics(settings)
    video = generate(settings, tmp / "media", name=STREAM)
    ingest(settings, STREAM, ["-i", str(video)], transcode=True)
    conf = settings.sample_media
    per_segment = round(settings.ingest.segment_seconds * conf.fps)
    starts = segment_starts(Path(settings.landing_uri(STREAM)) / "index.m3u8")
    truth: dict[int, list[dict]] = {}
    for row in pq.read_table(tmp / "media" / f"{STREAM}.truth.parquet").to_pylist():
        if row["visible"] >= 0.5:
            truth.setdefault(row["frame"], []).append(row)
    rows, frame_of_ms = [], {}
    for frame in range(0, round(conf.seconds * conf.fps), EVERY):
        segment, offset = divmod(frame, per_segment)
        at = starts[segment] + timedelta(seconds=offset / conf.fps)
        frame_of_ms[round(at.timestamp() * 1000)] = frame
        for n, logo in enumerate(truth.get(frame, [])):
            box = (logo["x1"] / conf.width, logo["y1"] / conf.height,
                   logo["x2"] / conf.width, logo["y2"] / conf.height)  # fmt: skip
            rows.append({
                "stream_id": STREAM, "segment_id": f"{STREAM}-{segment}", "sequence": segment,
                "frame_index": offset, "frame_time": at, "pts_s": offset / conf.fps,
                "frame_date": at.date(), "detection_id": f"{frame}-{n}", "kind": "brand",
                "label": logo["brand_id"], "confidence": 0.9, "x1": box[0], "y1": box[1],
                "x2": box[2], "y2": box[3], "model_name": "truth", "model_version": "truth",
            })  # fmt: skip
    write_rows(settings, DETECTIONS, rows)
    return settings, truth, frame_of_ms


@pytest.fixture(scope="module")
def dashboard(broadcast):
    """`brandlake dashboard` on free ports, stopped after the tests."""
    settings, _, _ = broadcast
    port = free_port()
    env = {
        **os.environ,
        "BRANDLAKE_LAKE__ROOT": settings.lake.root,
        "BRANDLAKE_DASHBOARD__PORT": str(port),
        "BRANDLAKE_DASHBOARD__MEDIA_PORT": str(free_port()),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "jobs.cli", "dashboard"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urlopen(f"{url}/_stcore/health", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                output = process.stdout.read().decode(errors="replace")
                pytest.fail(f"the dashboard did not start:\n{output[-3000:]}")
            time.sleep(0.5)
    yield url
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def overlay_alpha(frame) -> np.ndarray:
    """The overlay canvas's alpha channel, in device pixels."""
    data = frame.evaluate("() => document.getElementById('overlay').toDataURL('image/png')")
    png = np.frombuffer(base64.b64decode(data.split(",", 1)[1]), np.uint8)
    return cv2.imdecode(png, cv2.IMREAD_UNCHANGED)[:, :, 3]


def picture_box(alpha: np.ndarray, box: tuple[float, ...], aspect: float) -> np.ndarray:
    """A normalised box in canvas pixels, the picture letterboxed as object-fit: contain."""
    height, width = alpha.shape
    w = min(width, height * aspect)
    h = w / aspect
    x0, y0 = (width - w) / 2, (height - h) / 2
    return np.array([x0 + box[0] * w, y0 + box[1] * h, x0 + box[2] * w, y0 + box[3] * h])


def edge_coverage(alpha: np.ndarray, box: np.ndarray, reach: int = 3) -> float:
    """Share of points along the box's four edges with a drawn pixel within `reach` pixels."""
    x1, y1, x2, y2 = box
    points = [(x, y) for x in np.linspace(x1 + 4, x2 - 4, 12) for y in (y1, y2)]
    points += [(x, y) for y in np.linspace(y1 + 4, y2 - 4, 12) for x in (x1, x2)]
    hits = 0
    for x, y in points:
        xi, yi = round(x), round(y)
        window = alpha[max(yi - reach, 0) : yi + reach + 1, max(xi - reach, 0) : xi + reach + 1]
        hits += int(window.size > 0 and window.max() > 0)
    return hits / len(points)


def pushed_frame(stream: str) -> bytes:
    """A `detections`-topic frame message as frame_analysis publishes one."""
    now = datetime.now(UTC)
    return json.dumps({
        "frame_id": f"{stream}-pushed-{now.timestamp()}", "stream_id": stream,
        "segment_id": f"{stream}-pushed", "sequence": 0, "frame_time": now.isoformat(),
        "frame_epoch_ms": int(now.timestamp() * 1000), "pts_s": 0.0, "interval_s": 0.5,
        "refined": False, "brands": [], "person_count": 0, "scene_label": None,
        "safety_score": None, "models": "test",
    }).encode()  # fmt: skip


def test_live_page_draws_boxes_where_the_truth_has_logos_as_the_video_plays(
    broadcast, dashboard, tmp_path, stack
):
    from playwright.sync_api import sync_playwright

    settings, truth, frame_of_ms = broadcast
    aspect = settings.sample_media.width / settings.sample_media.height
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.goto(f"{dashboard}/?stream={STREAM}", timeout=60_000)  # Live is the main page
        frame = page.wait_for_selector("iframe", timeout=60_000).content_frame()
        # It plays: the picture advances on its own.
        frame.wait_for_function(
            "() => { const v = document.getElementById('video');"
            " return v && !v.paused && v.currentTime > 1.0; }",
            timeout=60_000,
        )
        page.wait_for_selector("text=Screen seconds", state="attached", timeout=30_000)
        page.screenshot(path=tmp_path / "live-page.png", full_page=True)

        drawn = []
        for seconds in (2.2, 5.5):
            frame.evaluate(
                "t => { const v = document.getElementById('video');"
                " v.pause(); v.currentTime = t; }",
                seconds,
            )
            frame.wait_for_function(
                "t => { const o = window.brandlakeOverlay, v = document.getElementById('video');"
                " return !v.seeking && o.mediaTime !== null && Math.abs(o.mediaTime - t) < 0.02"
                " && o.frameMs !== null && o.boxes > 0; }",
                arg=seconds,
                timeout=30_000,
            )
            state = frame.evaluate("() => window.brandlakeOverlay")
            frame.locator("#stage").screenshot(path=tmp_path / f"overlay-{seconds}s.png")
            # In sync: the boxes are those of the newest analysed frame at the playing time.
            assert 0 <= state["playingMs"] - state["frameMs"] <= 1000 / 10 + 20, state
            shown = frame_of_ms[state["frameMs"]]
            logos = truth[shown]
            assert state["boxes"] == len(logos)

            alpha = overlay_alpha(frame)
            everywhere = np.zeros(alpha.shape, bool)
            for logo in logos:
                conf = settings.sample_media
                box = picture_box(
                    alpha,
                    (logo["x1"] / conf.width, logo["y1"] / conf.height,
                     logo["x2"] / conf.width, logo["y2"] / conf.height),
                    aspect,
                )  # fmt: skip
                assert edge_coverage(alpha, box) >= 0.9, (seconds, logo["brand_id"])
                x1, y1, x2, y2 = box.round().astype(int)
                w, h = x2 - x1, y2 - y1
                inside = alpha[y1 + h // 3 : y2 - h // 3, x1 + w // 3 : x2 - w // 3]
                assert (inside == 0).mean() > 0.9, "boxes are outlines, the logo shows through"
                everywhere[max(y1 - 40, 0) : y2 + 40, max(x1 - 10, 0) : x2 + 200] = True
            assert (alpha[~everywhere] == 0).mean() > 0.999, "drawn where no logo is"
            drawn.append(box)

        # The picture under the overlay is the video, not a blank element.
        picture = cv2.imread(str(tmp_path / "overlay-5.5s.png"))
        assert picture.std() > 20

        # Frames analysed from now on arrive pushed (Server-Sent Events), without a fetch.
        deadline = time.monotonic() + 60
        while not frame.evaluate("() => window.brandlakeOverlay.pushed || 0"):
            assert time.monotonic() < deadline, "no frame pushed to the player in 60 s"
            produce(stack, "detections", [pushed_frame(STREAM)])
            time.sleep(0.5)
        browser.close()
    assert not np.allclose(drawn[0], drawn[1], atol=5), "the overlay follows the video"
