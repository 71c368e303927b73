"""Words said in a segment by the shipped Whisper tiny.en: a brand named across a segment
boundary is heard whole in the segment it ends in; silence and no audio give nothing."""

from __future__ import annotations

import subprocess
import time
import wave

import numpy as np
import pytest

from jobs.common.config import load_settings
from jobs.frame_analysis import speech_hotwords
from jobs.ingest.ffmpeg import ffmpeg_binary, hls_command
from jobs.sample_media.soundtrack import SAMPLE_RATE, speak, voice
from udfs.speech.segment import segment_speech
from udfs.speech.transcribe import SpeechReader
from udfs.text.mentions import brand_names

needs_voice = pytest.mark.skipif(
    voice() is None,
    reason="Debian's espeak-ng is not installed (`make install` installs it where apt-get may)",
)


@pytest.fixture(scope="module")
def settings():
    return load_settings()


@pytest.fixture(scope="module")
def reader(settings) -> SpeechReader:
    return SpeechReader(list(speech_hotwords(settings)), threads=2)


def segments(folder, sound: np.ndarray | None, seconds: float = 6.0) -> list:
    """`sound` (at espeak-ng's rate) under a test pattern, cut into 2 s segments by ingest's
    own ffmpeg command."""
    source = ["-f", "lavfi", "-i", f"testsrc=size=320x240:rate=25:duration={seconds}"]
    if sound is not None:
        track = folder / "sound.wav"
        with wave.open(str(track), "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(SAMPLE_RATE)
            writer.writeframes((np.clip(sound, -1, 1) * 32767).astype(np.int16).tobytes())
        source += ["-i", str(track)]
    both = folder / "source.mkv"
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", *source,
                    "-c:v", "ffv1", "-c:a", "pcm_s16le", str(both)], check=True)  # fmt: skip
    conf = load_settings().ingest
    subprocess.run(hls_command(["-i", str(both)], folder, conf, transcode=True), check=True)
    return sorted(str(path) for path in folder.glob("seg_*.ts"))


@needs_voice
def test_a_name_said_across_a_boundary_is_heard_in_the_segment_it_ends_in(
    tmp_path, reader, settings
):
    before, name = speak("This half is brought to you by"), speak("Fizz Co")
    sound = np.zeros(6 * SAMPLE_RATE, np.float32)
    name_at = 3.8  # the name from 3.8 s: across the boundary at 4 s
    start = round(name_at * SAMPLE_RATE) - before.size - round(0.08 * SAMPLE_RATE)
    sound[start : start + before.size] = before
    at = round(name_at * SAMPLE_RATE)
    sound[at : at + name.size] = name
    first, second, third = segments(tmp_path, sound)
    names = brand_names(settings.catalog.brands)
    started = time.perf_counter()
    words, mentions = segment_speech(third, reader, names, previous_uri=second, overlap_s=1.5)
    took = time.perf_counter() - started
    print(
        f"\nspeech: 2 s segment + 1.5 s overlap in {took:.2f} s (real-time factor {took / 2:.2f})"
    )
    (mention,) = mentions
    assert mention.brand_id == "fizzco"
    assert abs(mention.start_s - (name_at - 4.0)) < 0.5 and mention.end_s > 0
    assert all(w.end_s > 0 for w in words)  # words ending before it are the segment before's
    # Alone, without the segment before, the cut name is not taken for a whole one
    assert segment_speech(first, reader, names) == ([], [])


def test_silence_and_no_audio_track_say_nothing(tmp_path, reader, settings):
    names = brand_names(settings.catalog.brands)
    (tmp_path / "quiet").mkdir()
    (tmp_path / "none").mkdir()
    quiet = segments(tmp_path / "quiet", np.zeros(4 * SAMPLE_RATE, np.float32), 4.0)
    assert segment_speech(quiet[1], reader, names, previous_uri=quiet[0]) == ([], [])
    none = segments(tmp_path / "none", None, 4.0)
    assert segment_speech(none[1], reader, names, previous_uri=none[0]) == ([], [])
