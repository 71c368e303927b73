"""A segment's sound, decoded with PyAV to what speech models take: mono float32 at 16 kHz.

A segment with no audio track has no sound (None), which is not an error; an audio track the
decoder cannot read raises `SegmentAudioError` (the job records it and analyses the pictures).
"""

from __future__ import annotations

import numpy as np
import pyarrow.fs as pafs

from udfs.decoding.frames import open_source

SAMPLE_RATE = 16_000


class SegmentAudioError(RuntimeError):
    """A segment's audio track cannot be decoded; the message says which and why."""


def segment_audio(
    uri: str, filesystem: pafs.FileSystem | None = None, last_s: float | None = None
) -> np.ndarray | None:
    """The first audio track of `uri` as mono float32 samples at `SAMPLE_RATE` (its last
    `last_s` seconds only, when given); None when it has no audio track."""
    import av

    packets, chunks = 0, []
    try:
        with av.open(open_source(uri, filesystem)) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            for packet in container.demux(stream):
                packets += packet.size > 0
                for frame in packet.decode():
                    chunks += [c.to_ndarray().reshape(-1) for c in resampler.resample(frame)]
            chunks += [c.to_ndarray().reshape(-1) for c in resampler.resample(None)]
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise SegmentAudioError(f"{uri}: audio: {err}") from None
    if not chunks:  # a track whose packets cannot be found or decoded (silence still decodes)
        raise SegmentAudioError(f"{uri}: audio: its track decodes to nothing ({packets} packets)")
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if last_s is not None:
        samples = samples[-round(last_s * SAMPLE_RATE) :] if last_s > 0 else samples[:0]
    return samples.astype(np.float32, copy=False)
