"""Sampling frames from real footage, and failing clearly on a broken segment."""

from __future__ import annotations

import subprocess

import av
import numpy as np
import pytest

from tests.media import shared_video, vtest_segment
from udfs.decoding.frames import SegmentDecodeError, SegmentFrames, sample_frames


def test_two_frames_per_second_from_real_footage():
    video = shared_video()
    frames = list(sample_frames(video.as_uri(), fps=2.0))
    # 341 frames at 25 fps: 13.64 s, so samples at 0, 0.5, ..., 13.5 s; each is the first frame
    # at or after its time (this file's timestamps jitter by a fiftieth of a second).
    assert [f.pts_s for f in frames] == pytest.approx([i / 2 + 0.03 for i in range(28)], abs=0.035)
    indices = [f.index for f in frames]
    assert indices == sorted(set(indices)) and indices[0] == 0 and indices[-1] <= 340
    assert all(f.image.shape == (720, 1280, 3) and f.image.dtype.name == "uint8" for f in frames)


def test_keyframes_only_decodes_just_keyframes():
    frames = list(sample_frames(str(shared_video()), fps=0.5, keyframes_only=True))
    assert 1 <= len(frames) <= 10
    assert frames[0].pts_s == 0.0


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 100, bytes(range(256)) * 64])
def test_broken_segments_raise_one_clear_error(tmp_path, content):
    broken = tmp_path / "seg_000001.ts"
    broken.write_bytes(content)
    with pytest.raises(SegmentDecodeError, match=r"seg_000001\.ts"):
        list(sample_frames(broken.as_uri(), fps=2.0))


def test_a_truncated_segment_gives_what_it_has(tmp_path):
    whole = shared_video().read_bytes()
    truncated = tmp_path / "cut.avi"
    truncated.write_bytes(whole[: len(whole) // 3])
    try:
        frames = list(sample_frames(str(truncated), fps=2.0))
    except SegmentDecodeError:
        return
    assert 0 < len(frames) < 28


@pytest.fixture(scope="module")
def cut_segment(tmp_path_factory):
    """Seconds 8 to 10 of vtest.avi as an ingest-made segment (frame 225 is at 9 s)."""
    return vtest_segment(tmp_path_factory.mktemp("seg"))


@pytest.mark.parametrize("fps", [1.0, 2.0, 5.0])
def test_no_sample_slot_is_filled_twice(cut_segment, fps):
    """A frame a hair before its slot is taken for it; the next frame must not be as well."""
    frames = list(sample_frames(cut_segment.as_uri(), fps=fps))
    assert [round(f.pts_s * fps) for f in frames] == list(range(round(2 * fps)))


@pytest.fixture(scope="module")
def b_frame_segment(tmp_path_factory):
    """Seconds 8 to 10 of vtest.avi encoded as ingest encodes (x264 veryfast: B-frames)."""
    from jobs.ingest.ffmpeg import ffmpeg_binary

    path = tmp_path_factory.mktemp("bseg") / "seg_000004.ts"
    subprocess.run(
        [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-ss", "8", "-i",
         str(shared_video()), "-t", "2", "-c:v", "libx264", "-preset", "veryfast", "-an",
         "-f", "mpegts", str(path)],
        check=True,
    )  # fmt: skip
    return path


def decoded(path, skip: str | None = None) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if skip:
            stream.codec_context.skip_frame = skip
        return sum(1 for _ in container.decode(stream))


def test_reference_frames_only_are_the_same_frames_a_little_later(b_frame_segment):
    """Sampling among reference frames (B-frames left undecoded): one frame per slot, at most
    a few frames after the slot's time, and each is the very frame of that number in a full
    decode (numbers come from timestamps when frames are skipped)."""
    assert decoded(b_frame_segment, "NONREF") < decoded(b_frame_segment) * 0.8
    every = {f.index: f for f in SegmentFrames(b_frame_segment.as_uri(), fps=25.0)}
    sampled = list(sample_frames(b_frame_segment.as_uri(), fps=2.0, reference_only=True))
    exact = list(sample_frames(b_frame_segment.as_uri(), fps=2.0))
    assert len(sampled) == len(exact) == 4
    for slot, (frame, first) in enumerate(zip(sampled, exact, strict=True)):
        assert slot / 2 - 0.02 <= frame.pts_s <= slot / 2 + 0.13
        assert frame.index >= first.index
        assert np.array_equal(frame.image, every[frame.index].image)


def test_detail_frames_come_at_their_own_rate_and_size():
    """At 2 frames/s with text read once a second: every other sample also carries the frame
    at 1280 px while the detectors get 640 px."""
    reader = SegmentFrames(str(shared_video()), 2.0, max_side=640, detail_fps=1.0,
                           detail_side=1280)  # fmt: skip
    frames = list(reader)
    assert all(f.image.shape == (360, 640, 3) for f in frames)
    detailed = [f for f in frames if f.detail is not None]
    assert [round(f.pts_s) for f in detailed] == list(range(14))
    assert [f.index for f in detailed] == [f.index for f in frames[::2]]
    assert all(f.detail.shape == (720, 1280, 3) for f in detailed)
