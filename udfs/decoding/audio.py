"""A segment's sound, decoded with PyAV to what speech models take: mono float32 at 16 kHz.

A segment with no audio track has no sound (None), which is not an error; an audio track the
decoder cannot read raises `SegmentAudioError` (the job records it and analyses the pictures).

The end of the segment before, when asked for, goes through the same decoder just before the
segment: AAC overlaps each frame with the one before it, so a segment decoded alone starts
with about 20 ms of silence and a fade-in, and a name said across the boundary came out as
other words ("Aqua Pure Water" heard as "McWappier Walker").
"""

from __future__ import annotations

import logging
from contextlib import ExitStack

import numpy as np
import pyarrow.fs as pafs

from udfs.decoding.frames import open_source

SAMPLE_RATE = 16_000
log = logging.getLogger("brandlake.speech")


class SegmentAudioError(RuntimeError):
    """A segment's audio track cannot be decoded; the message says which and why."""


def segment_audio(
    uri: str,
    filesystem: pafs.FileSystem | None = None,
    previous_uri: str | None = None,
    context_s: float = 0.0,
) -> tuple[np.ndarray, np.ndarray] | None:
    """(the last `context_s` seconds of `previous_uri`, the first audio track of `uri`) as mono
    float32 samples at `SAMPLE_RATE`; None when `uri` has no audio track.

    The context is empty when there is no segment before, or when it cannot be read or is
    another format (the segment is then decoded alone, as the first one is)."""
    import av

    with ExitStack() as open_files:
        own = _audio_stream(open_files, uri, filesystem)
        if own is None:
            return None
        context: list = []
        if previous_uri is not None and context_s > 0:
            context = _context_frames(open_files, previous_uri, filesystem, own)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        before = _resampled(resampler, context)
        packets, frames = 0, []
        try:
            for packet in own.container.demux(own):
                packets += packet.size > 0
                frames += own.codec_context.decode(packet if packet.size else None)
        except (av.error.FFmpegError, OSError, ValueError) as err:
            raise SegmentAudioError(f"{uri}: audio: {err}") from None
        if not frames:  # packets that cannot be found or decoded (silence still decodes)
            raise SegmentAudioError(
                f"{uri}: audio: its track decodes to nothing ({packets} packets)"
            )
        samples = _resampled(resampler, [*frames, None])
    return before[-round(context_s * SAMPLE_RATE) :] if before.size else before, samples


def _audio_stream(open_files: ExitStack, uri: str, filesystem: pafs.FileSystem | None):
    import av

    try:
        container = open_files.enter_context(av.open(open_source(uri, filesystem)))
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise SegmentAudioError(f"{uri}: audio: {err}") from None
    return container.streams.audio[0] if container.streams.audio else None


def _context_frames(open_files: ExitStack, uri: str, filesystem, own) -> list:
    """The previous segment's decoded frames, through `own`'s decoder (which they leave primed
    for `own`'s first frame); none when it cannot be read or is not the same format."""
    import av

    codec = own.codec_context
    try:
        previous = _audio_stream(open_files, uri, filesystem)
        if previous is None or _format(previous) != _format(own):
            return []
        # Its final empty packet would end `own`'s decoder: the segment's packets follow.
        return [f for p in previous.container.demux(previous) if p.size for f in codec.decode(p)]
    except (SegmentAudioError, av.error.FFmpegError, OSError, ValueError) as err:
        log.debug("no context before the segment from %s: %s", uri, err)
        codec.flush_buffers()
        return []


def _format(stream) -> tuple:
    codec = stream.codec_context
    return codec.name, codec.sample_rate, codec.channels


def _resampled(resampler, frames: list) -> np.ndarray:
    """`frames` (None flushes) as mono float32 at `SAMPLE_RATE`, continuing the resampler's
    stream so the segment and its context join without a seam."""
    chunks = [c.to_ndarray().reshape(-1) for f in frames for c in resampler.resample(f)]
    return (
        np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)
    )
