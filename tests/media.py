"""Shared test media: footage nobody here made, from ../shared/media ($BRANDLAKE_TEST_MEDIA)."""

from __future__ import annotations

import os
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
