"""The privacy rendition of a segment: the same frames at the same times, its sound kept, and
no face left for the detector to find."""

from __future__ import annotations

import subprocess

import av
import cv2
import numpy as np
import pytest
from skimage import data

from jobs.ingest.ffmpeg import ffmpeg_binary
from udfs.decoding.frames import SegmentDecodeError
from udfs.effects.faces import FaceBlur
from udfs.effects.rendition import blur_segment


@pytest.fixture(scope="module")
def face_segment(tmp_path_factory):
    """2 s at 30 fps, 1280x720, with sound: the astronaut's portrait drifting right across a
    grey studio, MPEG-TS as ingest writes it (timestamps not starting at zero)."""
    folder = tmp_path_factory.mktemp("faces")
    portrait = cv2.resize(data.astronaut(), (400, 400))
    raw = folder / "frames.rgb"
    with raw.open("wb") as out:
        for index in range(60):
            frame = np.full((720, 1280, 3), 90, np.uint8)
            x = 200 + index * 8
            frame[160:560, x : x + 400] = portrait
            out.write(frame.tobytes())
    path = folder / "seg_000003.ts"
    subprocess.run(
        [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "1280x720", "-r", "30", "-i", str(raw),
         "-f", "lavfi", "-i", "sine=frequency=300:duration=2",
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-ac", "1", "-output_ts_offset", "6", "-f", "mpegts", str(path)],
        check=True,
    )  # fmt: skip
    return path


def frames_of(path) -> tuple[list[int], list[np.ndarray]]:
    with av.open(str(path)) as container:
        decoded = list(container.decode(video=0))
        return [f.pts for f in decoded], [f.to_ndarray(format="rgb24") for f in decoded]


def test_every_frame_keeps_its_time_and_no_face_is_left(face_segment, tmp_path):
    faces = FaceBlur()
    out = tmp_path / "seg_000003.ts"
    rendered = blur_segment(face_segment.as_uri(), out, faces, detect_every=3)
    assert rendered.frames == 60 and rendered.looked == 20 and rendered.faces >= 18
    source_pts, source = frames_of(face_segment)
    blurred_pts, blurred = frames_of(out)
    assert blurred_pts == source_pts  # same count, same times: plays in step with the source
    for index in (0, 1, 2, 29, 31, 58, 59):  # looked at, and between looks
        assert faces.faces(source[index]), index
        assert faces.faces(blurred[index]) == [], index
    with av.open(str(out)) as container:
        assert container.streams.audio and container.streams.audio[0].codec_context.name == "aac"
    assert not list(tmp_path.glob(".*partial"))


def test_a_broken_segment_raises_and_leaves_no_file(tmp_path):
    broken = tmp_path / "seg_000009.ts"
    broken.write_bytes(b"\x47" + bytes(4000))
    out = tmp_path / "blurred.ts"
    with pytest.raises(SegmentDecodeError, match="seg_000009"):
        blur_segment(broken.as_uri(), out, FaceBlur())
    assert not out.exists() and not list(tmp_path.glob(".*partial"))
