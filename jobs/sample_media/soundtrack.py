"""The sample broadcast's soundtrack: a synthetic commentator saying sentences, some naming a
brand, at known times, so spoken mentions have a truth to be scored against.

The voice is Debian's `espeak-ng` (installed by `make install` where apt-get may). Each
sentence is spoken in parts (the words before the name, the name, the words after), so where
the name starts and ends is known exactly. Without espeak-ng the soundtrack is silent and the
truth names nothing said (a warning says so).
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import wave
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from jobs.common.config import Brand
from jobs.sample_media.naming import next_named

log = logging.getLogger("brandlake.sample_media")

SAMPLE_RATE = 22_050  # espeak-ng's
# "{name}": a brand's name or alias. Plain sentences name no brand, not even within a misheard
# letter (tests/jobs/sample_media/test_soundtrack.py checks the matcher agrees).
SPOKEN_WITH_BRAND = (
    "This half is brought to you by {name}",
    "Stay refreshed with {name} tonight",
    "{name} is our partner for the final",
    "A word now from {name}",
    "Back after this message from {name}",
)
SPOKEN_PLAIN = (
    "Welcome back to the arena",
    "What a save by the keeper",
    "The weather is fine today",
    "Both teams are back on the pitch",
    "That was close to the post",
)


@dataclass(frozen=True)
class SpokenLine:
    text: str
    brand_id: str  # "" when it names no brand
    start_s: float
    end_s: float
    name_start_s: float | None = None  # when the brand's name is said
    name_end_s: float | None = None


def voice() -> str | None:
    """espeak-ng's path, or None when it is not installed."""
    return shutil.which("espeak-ng")


@lru_cache(maxsize=256)
def speak(text: str) -> np.ndarray:
    """`text` said by espeak-ng (float32 samples at `SAMPLE_RATE`), silence trimmed."""
    wav = subprocess.run(
        [voice() or "espeak-ng", "-v", "en-us", "-s", "150", "--stdout", text],
        capture_output=True,
        check=True,
    ).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        samples = np.frombuffer(reader.readframes(reader.getnframes()), np.int16)
    samples = samples.astype(np.float32) / 32768
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    return samples[loud[0] : loud[-1] + 1] if loud.size else samples[:0]


def script(
    random: np.random.Generator, brands: list[Brand], seconds: float, mean_gap_s: float
) -> list[tuple[str, Brand | None, str]]:
    """(template, brand or None, the name used) of each sentence, in order: six in ten name a
    brand, each brand before any twice."""
    lines, unnamed = [], list(brands)
    for _ in range(int(seconds / (mean_gap_s + 2.0)) + 1):
        if random.random() < 0.6:
            brand, name = next_named(random, brands, unnamed)
            lines.append((str(random.choice(SPOKEN_WITH_BRAND)), brand, name))
        else:
            lines.append((str(random.choice(SPOKEN_PLAIN)), None, ""))
    return lines


def render_soundtrack(
    random: np.random.Generator, brands: list[Brand], seconds: float, mean_gap_s: float,
    path: Path,
) -> list[SpokenLine]:  # fmt: skip
    """Write a mono WAV of `seconds` to `path`; returns what is said in it and when."""
    track = np.zeros(round(seconds * SAMPLE_RATE), np.float32)
    said: list[SpokenLine] = []
    if mean_gap_s > 0 and voice() is None:
        log.warning("no espeak-ng: the sample's soundtrack is silent (`make install` adds it)")
    elif mean_gap_s > 0:
        pause = np.zeros(round(0.08 * SAMPLE_RATE), np.float32)
        at = float(random.uniform(0.5, 2.0))
        for template, brand, name in script(random, brands, seconds, mean_gap_s):
            before, _, after = template.partition("{name}")
            parts = [speak(part.strip()) if part.strip() else None for part in (before, after)]
            spoken = speak(name) if brand is not None else None
            pieces = [p for p in (parts[0], spoken, parts[1]) if p is not None]
            audio = np.concatenate([x for p in pieces for x in (p, pause)][:-1])
            start = round(at * SAMPLE_RATE)
            if start + audio.size > track.size:
                break
            track[start : start + audio.size] = audio
            line = SpokenLine(template.format(name=name), "", at, at + audio.size / SAMPLE_RATE)
            if brand is not None:
                offset = (parts[0].size + pause.size) if parts[0] is not None else 0
                name_start = at + offset / SAMPLE_RATE
                line = SpokenLine(line.text, brand.brand_id, line.start_s, line.end_s,
                                  round(name_start, 4),
                                  round(name_start + spoken.size / SAMPLE_RATE, 4))  # fmt: skip
            said.append(line)
            at = line.end_s + float(random.uniform(0.5, 1.5) * mean_gap_s)
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes((np.clip(track, -1, 1) * 32767).astype(np.int16).tobytes())
    return said
