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
