"""The words said in one segment, with the end of the segment before it for context: a name
said across the boundary is heard whole in the segment it ends in.

Times are seconds from the segment's start (negative: said in the overlap, before it). Words
belong to the segment they end in; a name whose last word ends in this segment is this
segment's mention, whenever it started.
"""

from __future__ import annotations

import numpy as np
import pyarrow.fs as pafs

from udfs.decoding.audio import SAMPLE_RATE, segment_audio
from udfs.speech.transcribe import SpeechReader, SpokenWord
from udfs.text.mentions import BrandName, SpokenMention, find_spoken


def segment_speech(
    uri: str,
    reader: SpeechReader,
    names: list[BrandName],
    previous_uri: str | None = None,
    overlap_s: float = 1.5,
    filesystem: pafs.FileSystem | None = None,
) -> tuple[list[SpokenWord], list[SpokenMention]]:
    """The segment's words and the brands named in them. No audio track, or silence: none.

    Raises `SegmentAudioError` when the segment's audio cannot be decoded. The previous
    segment's tail is context only: when it cannot be read (the first segment, retention),
    the segment is transcribed alone."""
    sound = segment_audio(uri, filesystem, previous_uri, overlap_s)
    if sound is None or sound[1].size == 0:
        return [], []
    before, own = sound
    shift = before.size / SAMPLE_RATE
    said = [
        SpokenWord(w.text, round(w.start_s - shift, 3), round(w.end_s - shift, 3), w.probability)
        for w in reader.words(np.concatenate([before, own]))
    ]
    mentions = [m for m in find_spoken(said, names, reader.hotword_list) if m.end_s > 0]
    return [w for w in said if w.end_s > 0], mentions
