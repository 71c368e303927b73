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
import pyarrow.fs as pafs


class SegmentDecodeError(RuntimeError):
    """A segment cannot be decoded; the message says which and why."""


@dataclass(frozen=True)
class SampledFrame:
    index: int  # frame number within the segment
    pts_s: float  # presentation time from the segment's first frame, seconds
    image: np.ndarray  # RGB, height x width x 3
    detail: np.ndarray | None = None  # the same frame larger, for text (`detail_fps`)


def open_source(uri: str, filesystem: pafs.FileSystem | None):
    """What PyAV opens: a local path, or a file on `filesystem` (the object store holding
    `uri`, with the lake's endpoint and credentials), else the one pyarrow finds for `uri`."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return unquote(parsed.path) if parsed.scheme else uri
    if filesystem is not None:
        return filesystem.open_input_file(parsed.netloc + unquote(parsed.path))
    filesystem, path = pafs.FileSystem.from_uri(uri)
    return filesystem.open_input_file(path)


class SegmentFrames:
    """The frames of one segment sampled at `fps` (the first one included), and after the pass
    its duration; `between` decodes it again for frames that were not sampled.

    `reference_only`: sample among the frames other frames refer to, and skip decoding the
    rest (the B-frames nothing depends on: about half of an x264 broadcast's frames, and half
    its decoding time); a sample then falls on the first reference frame at or after its time,
    up to three frames later (x264's B-frames come in runs of up to three). Only when samples
    are at least 4 frames apart.

    `max_side`: frames larger than this (their longer side, in pixels) are scaled down to it by
    the decoder's scaler as they are converted to RGB (0: as decoded). The detectors look at
    640 px anyway: a 1080p frame costs 9x the pixels in every copy, resize and colour check
    after decoding, for nothing the models see.

    `detail_fps`: samples at this rate (at most `fps`; 0: none) also carry the frame at up to
    `detail_side` pixels (0: as decoded) as `detail`, for models that read fine print (text
    needs more pixels than the detectors).

    Raises `SegmentDecodeError` when the segment cannot be decoded. `filesystem`: the object
    store holding `uri`, when it is not a local file.
    """

    def __init__(
        self,
        uri: str,
        fps: float,
        keyframes_only: bool = False,
        filesystem: pafs.FileSystem | None = None,
        reference_only: bool = False,
        max_side: int = 0,
        detail_fps: float = 0.0,
        detail_side: int = 0,
    ) -> None:
        self.uri, self.fps, self.keyframes_only = uri, fps, keyframes_only
        self.filesystem = filesystem
        self.reference_only = reference_only
        self.max_side = max_side
        self.detail_fps, self.detail_side = detail_fps, detail_side
        self.duration_s: float | None = None  # first frame to the end of the last, once read

    def __iter__(self) -> Iterator[SampledFrame]:
        next_time, next_detail, produced, last = 0.0, 0.0, 0, 0.0
        skip = "NONKEY" if self.keyframes_only else "NONREF" if self.reference_only else None
        for index, offset, frame, slack in self._decode(skip):
            if self.keyframes_only or offset + slack >= next_time:
                detail = None
                if self.detail_fps and offset + slack >= next_detail:
                    detail = self._rgb(frame, self.detail_side)
                    next_detail = _next_slot(offset + slack, self.detail_fps)
                yield SampledFrame(index, round(offset, 6), self._rgb(frame), detail)
                produced += 1
                next_time = _next_slot(offset + slack, self.fps)
            last = offset + 2 * slack  # its end: one frame duration after it starts
        if produced == 0:
            raise SegmentDecodeError(f"{self.uri}: no decodable video frames")
        self.duration_s = round(last, 6)

    def between(self, spans: list[tuple[int, int]]) -> dict[int, SampledFrame]:
        """The frames strictly inside each (first, last) pair of frame indices, decoded again
        (H.264 frames depend on one another) and converted to RGB only when read."""
        wanted = {i for first, last in spans for i in range(first + 1, last)}
        found: dict[int, SampledFrame] = {}
        if not wanted:
            return found
        final = max(wanted)
        for index, offset, frame, _ in self._decode(None):
            if index in wanted:
                found[index] = _LazyFrame(index, round(offset, 6), frame, self._rgb)
            if index >= final:
                break
        return found

    def _rgb(self, frame, max_side: int | None = None) -> np.ndarray:
        """A decoded frame as RGB, scaled down to `max_side` (default: `self.max_side`) when
        larger."""
        max_side = self.max_side if max_side is None else max_side
        longest = max(frame.width, frame.height)
        if not max_side or longest <= max_side:
            return frame.to_ndarray(format="rgb24")
        scale = max_side / longest
        width, height = (2 * round(side * scale / 2) for side in (frame.width, frame.height))
        return frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")

    def _decode(self, skip: str | None):
        """(frame index, seconds from the first frame, PyAV frame, half a frame's duration);
        `skip`: the frames the decoder leaves out (FFmpeg's `skip_frame`: NONREF, NONKEY)."""
        import av

        try:
            with av.open(open_source(self.uri, self.filesystem)) as container:
                if not container.streams.video:
                    raise SegmentDecodeError(f"{self.uri}: no video stream")
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                rate = max(float(stream.average_rate or 30), 1)
                if skip == "NONREF" and rate / self.fps < 4:
                    skip = None  # samples close together: most frames are used anyway
                if skip:
                    stream.codec_context.skip_frame = skip
                slack = 0.5 / rate  # half a frame: timestamps are rounded to the time base
                first = None
                for count, frame in enumerate(container.decode(stream)):
                    if frame.pts is None:
                        continue
                    moment = float(frame.pts * stream.time_base)
                    first = moment if first is None else first
                    # with frames skipped, a frame's number comes from its time
                    index = round((moment - first) * rate) if skip else count
                    yield index, moment - first, frame, slack
        except SegmentDecodeError:
            raise
        except (av.error.FFmpegError, OSError, ValueError) as err:
            raise SegmentDecodeError(f"{self.uri}: {err}") from None


def _next_slot(moment: float, rate: float) -> float:
    """The next sample time after `moment` (a frame's time, slack included) at `rate` per
    second, so a frame a hair early for one slot never makes the next frame count for it."""
    return (int(moment * rate + 1e-9) + 1) / rate


class _LazyFrame(SampledFrame):
    """A decoded frame whose RGB image is made when first read (most are never read)."""

    def __init__(self, index: int, pts_s: float, frame, to_rgb) -> None:
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "pts_s", pts_s)
        object.__setattr__(self, "_frame", frame)
        object.__setattr__(self, "_to_rgb", to_rgb)

    @property
    def image(self) -> np.ndarray:  # type: ignore[override]
        if "_image" not in self.__dict__:
            object.__setattr__(self, "_image", self._to_rgb(self._frame))
        return self.__dict__["_image"]


def sample_frames(
    uri: str, fps: float, keyframes_only: bool = False, reference_only: bool = False
) -> Iterator[SampledFrame]:
    """The frames of `uri` at `fps` per second, the first one included."""
    return iter(SegmentFrames(uri, fps, keyframes_only, reference_only=reference_only))
