"""A segment re-rendered with every face blurred: the same frames at the same times, the sound
as it was, so the privacy rendition plays in step with the source.

Faces are looked for every `detect_every` frames (a face moves little in a tenth of a second);
the frames between two looks blur the boxes of both, so a face moving between them stays
covered. Every frame is decoded and re-encoded (H.264, x264 `ultrafast`); the audio packets
are copied.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.fs as pafs

from udfs.decoding.frames import SegmentDecodeError, open_source
from udfs.effects.faces import Box, FaceBlur


@dataclass(frozen=True)
class Rendered:
    frames: int
    faces: int  # face boxes found, over the frames looked at
    looked: int  # frames the face detector looked at


def blur_segment(
    uri: str,
    out: Path,
    faces: FaceBlur,
    detect_every: int = 3,
    filesystem: pafs.FileSystem | None = None,
    preset: str = "ultrafast",
) -> Rendered:
    """Write `uri` with its faces blurred to `out` (MPEG-TS). Raises `SegmentDecodeError` when
    it cannot be decoded; `out` is written whole or not at all (a temporary file renamed)."""
    import av

    partial = out.with_name(f".{out.name}.partial")
    found = looked = frames = 0
    try:
        with (
            av.open(open_source(uri, filesystem)) as source,
            av.open(str(partial), "w", format="mpegts") as target,
        ):
            if not source.streams.video:
                raise SegmentDecodeError(f"{uri}: no video stream")
            video = source.streams.video[0]
            encoded = target.add_stream("libx264", rate=video.average_rate or 30)
            encoded.width, encoded.height = video.codec_context.width, video.codec_context.height
            encoded.pix_fmt = "yuv420p"
            encoded.time_base = video.time_base
            encoded.options = {"preset": preset, "crf": "20"}
            sound = source.streams.audio[0] if source.streams.audio else None
            copied = target.add_stream_from_template(sound) if sound is not None else None
            waiting: list = []  # decoded frames since the last look, and the boxes it found
            boxes: list[Box] = []
            streams = [video] + ([sound] if sound is not None else [])
            for packet in source.demux(*streams):
                if packet.stream is sound:
                    if packet.dts is not None:
                        packet.stream = copied
                        target.mux(packet)
                    continue
                for frame in packet.decode():
                    if frames % detect_every == 0:
                        image = frame.to_ndarray(format="rgb24")
                        seen = faces.faces(image)
                        looked, found = looked + 1, found + len(seen)
                        _flush(target, encoded, waiting, boxes + seen, faces)
                        boxes, waiting = seen, []
                    waiting.append(frame)
                    frames += 1
            _flush(target, encoded, waiting, boxes, faces)
            for packet in encoded.encode(None):
                target.mux(packet)
    except SegmentDecodeError:
        partial.unlink(missing_ok=True)
        raise
    except (av.error.FFmpegError, OSError, ValueError) as err:
        partial.unlink(missing_ok=True)
        raise SegmentDecodeError(f"{uri}: {err}") from None
    if frames == 0:
        partial.unlink(missing_ok=True)
        raise SegmentDecodeError(f"{uri}: no decodable video frames")
    partial.replace(out)
    return Rendered(frames, found, looked)


def _flush(target, encoded, frames: list, boxes: list[Box], faces: FaceBlur) -> None:
    """Encode `frames` with `boxes` blurred, each at its own time."""
    import av

    for frame in frames:
        image = frame.to_ndarray(format="rgb24")
        if boxes:
            image = faces.blur(image, boxes)
        blurred = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        blurred = blurred.reformat(format="yuv420p")
        blurred.pts, blurred.time_base = frame.pts, frame.time_base
        for packet in encoded.encode(blurred):
            target.mux(packet)
