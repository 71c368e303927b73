"""One segment of real footage analysed: detections and context per sampled frame."""

from __future__ import annotations

import pytest

from tests.media import vtest_segment
from udfs.analysis.segment import Analyzers, analyse_segment
from udfs.decoding.frames import SegmentDecodeError
from udfs.detection.person import PersonDetector
from udfs.devices import torch_device


@pytest.fixture(scope="module")
def segment(tmp_path_factory):
    """Seconds 8 to 10 of vtest.avi as an ingest-made segment (frame 225 is at 9 s)."""
    return vtest_segment(tmp_path_factory.mktemp("seg"))


@pytest.fixture(scope="module")
def people():
    return PersonDetector(torch_device(), confidence=0.15, image_size=1280)


def test_a_segment_gives_rows_for_each_sampled_frame(segment, people):
    detections, context = analyse_segment(segment.as_uri(), Analyzers(people), fps=2.0)
    assert [round(c.pts_s, 1) for c in context] == [0.0, 0.5, 1.0, 1.5]
    assert context[0].motion == 0.0 and all(c.motion > 0 for c in context[1:])
    assert all(0.4 < c.brightness < 0.95 for c in context)  # a bright hall, not black frames
    # Frame 225 (9 s) has ~23 detectable people at this size; neighbours are alike.
    assert all(15 <= c.person_count <= 35 for c in context)
    assert len(detections) == sum(c.person_count for c in context)
    for row in detections:
        assert (row.kind, row.label, row.model_name) == ("person", "person", "yolo11n-pose")
        assert 0 <= row.x1 < row.x2 <= 1 and 0 <= row.y1 < row.y2 <= 1
        assert row.area_share == pytest.approx((row.x2 - row.x1) * (row.y2 - row.y1))


def test_an_undecodable_segment_raises_for_quarantine(tmp_path, people):
    broken = tmp_path / "seg_000009.ts"
    broken.write_bytes(b"\x47" + bytes(5000))
    with pytest.raises(SegmentDecodeError, match="seg_000009"):
        analyse_segment(broken.as_uri(), Analyzers(people))


@pytest.fixture(scope="module")
def logo_clip(tmp_path_factory):
    """2 s at 30 fps of a studio-like gradient with the FizzCo logo on screen in frames 7 to 43
    only (large and sharp: the boundaries, not the detector, are under test)."""
    import subprocess

    import numpy as np

    from jobs.common.config import load_settings
    from jobs.ingest.ffmpeg import ffmpeg_binary
    from jobs.sample_media.broadcast import paste_logo
    from jobs.sample_media.logos import render_logo

    fizzco = next(b for b in load_settings().catalog.brands if b.brand_id == "fizzco")
    logo = render_logo(fizzco)
    ramp = np.linspace(40, 200, 640, dtype=np.float32)
    background = np.dstack([np.tile(ramp, (360, 1)) * f for f in (0.5, 0.6, 0.9)]).astype(np.uint8)
    quad = np.float32([[200, 120], [440, 120], [440, 213], [200, 213]])
    path = tmp_path_factory.mktemp("clip") / "seg_000000.ts"
    encoder = subprocess.Popen(
        [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-s", "640x360", "-r", "30", "-i", "-", "-c:v", "libx264",
         "-preset", "ultrafast", "-g", "60", "-pix_fmt", "yuv420p", "-f", "mpegts", str(path)],
        stdin=subprocess.PIPE,
    )  # fmt: skip
    for index in range(60):
        frame = background.copy()
        if 7 <= index <= 43:
            paste_logo(frame, logo, quad)
        encoder.stdin.write(frame.tobytes())
    encoder.stdin.close()
    assert encoder.wait() == 0
    return path


def test_appearances_start_and_end_at_the_exact_frame(logo_clip):
    """Sampled at 2 frames/s (frames 0, 15, 30, 45), the logo's first frame (7) and last (43)
    are found by bisecting between samples with the brand detector alone; every frame stands
    for the video until the next one, so its screen time is exactly 37 frames."""
    from jobs.common.registry import shipped
    from udfs.detection.brand import BrandDetector

    weights, _ = shipped("brand-detector")
    brands = BrandDetector(str(weights), "shipped", torch_device(), 0.45, 640)
    detections, context = analyse_segment(logo_clip.as_uri(), Analyzers(None, brands), fps=2.0)
    sampled = [c.frame_index for c in context if not c.refined]
    refined = [c.frame_index for c in context if c.refined]
    assert sampled == [0, 15, 30, 45]
    assert 4 <= len(refined) <= 8  # about log2(15) per boundary
    showing = sorted({d.frame_index for d in detections if d.label == "fizzco"})
    assert (showing[0], showing[-1]) == (7, 43)
    assert all(c.person_count is None and c.scene_label is None for c in context if c.refined)
    assert sum(c.interval_s for c in context) == pytest.approx(2.0, abs=1e-3)
    on_screen = sum(c.interval_s for c in context if c.frame_index in showing)
    assert on_screen == pytest.approx(37 / 30, abs=1e-3)
    # Without refinement, the same frames count in sampling steps: 1.0 s for 1.23 s.
    _, coarse = analyse_segment(logo_clip.as_uri(), Analyzers(None, brands), 2.0,
                                refine_boundaries=False)  # fmt: skip
    assert [c.frame_index for c in coarse] == [0, 15, 30, 45]


@pytest.fixture(scope="module")
def captioned_clip(tmp_path_factory):
    """2 s at 30 fps, 1280x720: a lower third naming Pinecrest throughout, and FizzCo's logo
    (its name printed on it) from frame 0 to 40."""
    import subprocess

    import cv2
    import numpy as np

    from jobs.common.config import load_settings
    from jobs.ingest.ffmpeg import ffmpeg_binary
    from jobs.sample_media.broadcast import paste_logo
    from jobs.sample_media.logos import render_logo

    fizzco = next(b for b in load_settings().catalog.brands if b.brand_id == "fizzco")
    logo = render_logo(fizzco)
    background = np.full((720, 1280, 3), (60, 90, 70), np.uint8)
    cv2.rectangle(background, (300, 600), (980, 660), (30, 30, 110), -1)
    cv2.putText(background, "Trail run presented by Pinecrest", (320, 642),
                cv2.FONT_HERSHEY_DUPLEX, 1.2, (255, 255, 255), 2, cv2.LINE_AA)  # fmt: skip
    quad = np.float32([[460, 160], [820, 160], [820, 300], [460, 300]])
    path = tmp_path_factory.mktemp("captioned") / "seg_000000.ts"
    encoder = subprocess.Popen(
        [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-s", "1280x720", "-r", "30", "-i", "-", "-c:v", "libx264",
         "-preset", "ultrafast", "-g", "60", "-pix_fmt", "yuv420p", "-f", "mpegts", str(path)],
        stdin=subprocess.PIPE,
    )  # fmt: skip
    for index in range(60):
        frame = background.copy()
        if index <= 40:
            paste_logo(frame, logo, quad)
        encoder.stdin.write(frame.tobytes())
    encoder.stdin.close()
    assert encoder.wait() == 0
    return path


def test_text_is_read_once_a_second_at_the_size_text_needs(captioned_clip):
    from jobs.common.registry import shipped
    from udfs.detection.brand import BrandDetector
    from udfs.text.ocr import TextReader

    weights, _ = shipped("brand-detector")
    brands = BrandDetector(str(weights), "shipped", torch_device(), 0.45, 640)
    analyzers = Analyzers(None, brands, text=TextReader(), text_fps=1.0, text_side=1280)
    seconds: dict[str, float] = {}
    detections, context = analyse_segment(
        captioned_clip.as_uri(), analyzers, fps=2.0, refine_boundaries=False,
        model_seconds=seconds,
    )  # fmt: skip
    read = [c for c in context if c.text_lines is not None]
    assert [c.frame_index for c in read] == [0, 30]
    assert all(c.text_lines is None for c in context if c.frame_index in (15, 45))
    first = {line.text.lower().replace(" ", "") for line in read[0].text_lines}
    assert "trailrunpresentedbypinecrest" in first and "fizzco" in first  # caption and logo
    assert seconds["text"] > 0
    assert any(d.label == "fizzco" and d.frame_index == 0 for d in detections)  # its box
