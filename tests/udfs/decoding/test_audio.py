"""A segment's sound for speech models: 16 kHz mono, joined to the end of the segment before
without a gap, none without an audio track, and a clear error for an audio track that cannot
be decoded."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from jobs.common.config import load_settings
from jobs.ingest.ffmpeg import ffmpeg_binary, hls_command
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


def test_audio_is_mono_16k(tmp_path):
    path = segment(tmp_path / "seg_000001.ts", "sine=frequency=440:sample_rate=44100")
    before, samples = segment_audio(str(path))
    assert before.size == 0 and samples.dtype == np.float32 and samples.ndim == 1
    assert abs(samples.size / SAMPLE_RATE - 2.0) < 0.1
    assert 0.05 < np.abs(samples).max() <= 1.0


def test_the_segment_before_primes_the_decoder_so_the_boundary_has_no_gap(tmp_path):
    source = tmp_path / "tone.mkv"
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=4",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050:duration=4",
                    "-c:v", "ffv1", "-c:a", "pcm_s16le", str(source)], check=True)  # fmt: skip
    subprocess.run(hls_command(["-i", str(source)], tmp_path, load_settings().ingest,
                               transcode=True), check=True)  # fmt: skip
    first, second = sorted(str(path) for path in tmp_path.glob("seg_*.ts"))

    def loudness(samples: np.ndarray) -> np.ndarray:  # RMS of 8 ms windows
        return np.sqrt((samples[: samples.size // 128 * 128].reshape(-1, 128) ** 2).mean(axis=1))

    _, alone = segment_audio(second)
    steady = np.median(loudness(alone))
    assert loudness(alone[:512]).min() < 0.25 * steady  # decoded alone: it fades in
    tail, own = segment_audio(second, previous_uri=first, context_s=0.5)
    assert tail.size == SAMPLE_RATE // 2 and abs(own.size - alone.size) <= 32
    assert loudness(np.concatenate([tail, own])[tail.size - 1024 : tail.size + 1024]).min() > (
        0.8 * steady
    )


def test_a_segment_before_that_cannot_be_read_leaves_the_segment_alone(tmp_path):
    path = segment(tmp_path / "seg_000004.ts", "sine=frequency=440:sample_rate=44100")
    no_audio = segment(tmp_path / "seg_000003.ts", None)
    _, alone = segment_audio(str(path))
    for previous in (tmp_path / "seg_000002.ts", no_audio):  # gone (retention), no sound
        before, samples = segment_audio(str(path), previous_uri=str(previous), context_s=1.0)
        assert before.size == 0 and np.array_equal(samples, alone)


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
