"""Frames sampled from a video segment at a fixed rate, decoded with PyAV.

Every frame must be decoded (H.264 frames depend on each other), but only the sampled ones are
converted to RGB, which is most of the cost. When the rate is at most one frame per keyframe
interval, only keyframes are decoded (`keyframes_only`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

import numpy as np


class SegmentDecodeError(RuntimeError):
    """A segment cannot be decoded; the message says which and why."""


@dataclass(frozen=True)
class SampledFrame:
    index: int  # frame number within the segment
    pts_s: float  # presentation time from the segment's first frame, seconds
    image: np.ndarray  # RGB, height x width x 3


def _open_source(uri: str):
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return unquote(parsed.path) if parsed.scheme else uri
    import pyarrow.fs as pafs

    filesystem, path = pafs.FileSystem.from_uri(uri)
    return filesystem.open_input_file(path)


def sample_frames(uri: str, fps: float, keyframes_only: bool = False) -> Iterator[SampledFrame]:
    """The frames of `uri` at `fps` per second, the first one included."""
    import av

    step = 1.0 / fps
    try:
        with av.open(_open_source(uri)) as container:
            if not container.streams.video:
                raise SegmentDecodeError(f"{uri}: no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            if keyframes_only:
                stream.codec_context.skip_frame = "NONKEY"
            first, next_time, produced = None, 0.0, 0
            for index, frame in enumerate(container.decode(stream)):
                if frame.pts is None:
                    continue
                moment = float(frame.pts * stream.time_base)
                first = moment if first is None else first
                offset = moment - first
                # Half a frame of slack: timestamps are rounded to the time base.
                slack = 0.5 / max(float(stream.average_rate or 30), 1)
                if keyframes_only or offset + slack >= next_time:
                    yield SampledFrame(index, round(offset, 6), frame.to_ndarray(format="rgb24"))
                    produced += 1
                    # The next sample time after this frame, slack included, so a frame a hair
                    # early for one slot never makes the next frame count for it again.
                    next_time = (int((offset + slack) / step + 1e-9) + 1) * step
            if produced == 0:
                raise SegmentDecodeError(f"{uri}: no decodable video frames")
    except SegmentDecodeError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise SegmentDecodeError(f"{uri}: {err}") from None
