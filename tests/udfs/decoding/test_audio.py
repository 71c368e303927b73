"""A segment's sound for speech models: 16 kHz mono, none without an audio track, and a clear
error for an audio track that cannot be decoded."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from jobs.ingest.ffmpeg import ffmpeg_binary
from udfs.decoding.audio import SAMPLE_RATE, SegmentAudioError, segment_audio


def segment(path, audio: str | None, seconds: float = 2.0):
    """A 2 s MPEG-TS segment: test pattern video, and a tone (`audio` an lavfi source) or none."""
    inputs = ["-f", "lavfi", "-i", f"testsrc=size=320x240:rate=25:duration={seconds}"]
    if audio:
        inputs += ["-f", "lavfi", "-i", f"{audio}:duration={seconds}"]
    subprocess.run(
        [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", *inputs,
         "-c:v", "libx264", "-preset", "ultrafast",
         *(["-c:a", "aac", "-ac", "2", "-ar", "44100"] if audio else ["-an"]),
         "-f", "mpegts", str(path)],
        check=True,
    )  # fmt: skip
    return path


def test_audio_is_mono_16k_and_a_tail_can_be_taken(tmp_path):
    path = segment(tmp_path / "seg_000001.ts", "sine=frequency=440:sample_rate=44100")
    samples = segment_audio(str(path))
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(samples.size / SAMPLE_RATE - 2.0) < 0.1
    assert 0.05 < np.abs(samples).max() <= 1.0
    tail = segment_audio(str(path), last_s=0.5)
    assert tail.size == SAMPLE_RATE // 2 and np.array_equal(tail, samples[-tail.size :])


def test_no_audio_track_is_no_sound_not_an_error(tmp_path):
    assert segment_audio(str(segment(tmp_path / "seg_000002.ts", None))) is None


def test_an_audio_track_that_cannot_be_decoded_raises_one_clear_error(tmp_path):
    path = segment(tmp_path / "seg_000003.ts", "sine=frequency=440:sample_rate=44100")
    corrupt_audio(path)
    with pytest.raises(SegmentAudioError, match=r"seg_000003\.ts: audio: its track decodes"):
        segment_audio(str(path))


def corrupt_audio(path) -> None:
    """Overwrite the payload of every TS packet of the audio stream's PID with noise."""
    import av

    with av.open(str(path)) as container:
        pid = container.streams.audio[0].id
    data = bytearray(path.read_bytes())
    noise = np.random.default_rng(1)
    for start in range(0, len(data) - 187, 188):
        if ((data[start + 1] & 0x1F) << 8 | data[start + 2]) == pid:
            data[start + 8 : start + 188] = noise.integers(0, 256, 180, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
