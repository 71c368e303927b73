"""Shared test media: footage nobody here made, from ../shared/media ($BRANDLAKE_TEST_MEDIA)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

MEDIA_DIR = Path(
    os.environ.get("BRANDLAKE_TEST_MEDIA", Path(__file__).resolve().parents[2] / "shared" / "media")
)


def shared_video(name: str = "vtest.avi") -> Path:
    """The path of a shared test video; skips the test, saying why, when it is not there."""
    path = MEDIA_DIR / name
    if not path.is_file():
        pytest.skip(
            f"{name} is not in {MEDIA_DIR} (the shared media folder beside the repository); "
            "set BRANDLAKE_TEST_MEDIA to a folder that has it"
        )
    return path


def vtest_segment(folder: Path, start_s: float = 8, seconds: float = 2) -> Path:
    """Part of vtest.avi re-encoded to MPEG-TS, as ingest makes segments: its first timestamp
    is not zero and its frames fall a hair before 2-per-second sample slots."""
    from jobs.ingest.ffmpeg import ffmpeg_binary

    path = folder / "seg_000004.ts"
    subprocess.run(
        [
            ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-ss", str(start_s), "-i",
            str(shared_video()), "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast",
            "-an", "-f", "mpegts", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path


def face_clip(path: Path, offset_s: float = 6.0) -> Path:
    """2 s at 30 fps, 1280x720, with a tone: the astronaut's portrait (scikit-image) drifting
    right across a grey studio, MPEG-TS as ingest writes it (timestamps from `offset_s`)."""
    import cv2
    import numpy as np
    from skimage import data

    from jobs.ingest.ffmpeg import ffmpeg_binary

    portrait = cv2.resize(data.astronaut(), (400, 400))
    raw = path.with_suffix(".rgb")
    with raw.open("wb") as out:
        for index in range(60):
            frame = np.full((720, 1280, 3), 90, np.uint8)
            x = 200 + index * 8
            frame[160:560, x : x + 400] = portrait
            out.write(frame.tobytes())
    subprocess.run(
        [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "1280x720", "-r", "30", "-i", str(raw),
         "-f", "lavfi", "-i", "sine=frequency=300:duration=2",
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-ac", "1", "-output_ts_offset", str(offset_s), "-f", "mpegts",
         str(path)],
        check=True,
    )  # fmt: skip
    raw.unlink()
    return path
