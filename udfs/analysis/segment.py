"""Analyse one video segment: sample its frames, run the detectors in batches, and return the
rows of `silver.detections` and `silver.segment_context` for it. Pixels stay in here.

The `frame_analysis` job calls this inside one Arrow UDF per segment; tests and benchmarks call
it directly on a file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from udfs.decoding.frames import SampledFrame, sample_frames
from udfs.detection.person import MODEL_NAME, PersonDetector, model_version


@dataclass(frozen=True)
class DetectionRow:
    frame_index: int
    pts_s: float
    label: str
    confidence: float
    x1: float
    y1: float
    x2: float
    y2: float
    area_share: float
    model_name: str
    model_version: str


@dataclass(frozen=True)
class FrameContext:
    frame_index: int
    pts_s: float
    person_count: int
    brightness: float  # mean luma, 0..1
    motion: float  # mean absolute luma change since the previous sampled frame, 0..1


def _batches(frames: Iterator[SampledFrame], size: int) -> Iterator[list[SampledFrame]]:
    batch: list[SampledFrame] = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _luma(image: np.ndarray) -> np.ndarray:
    return image[..., :3].astype(np.float32) @ np.float32([0.299, 0.587, 0.114]) / 255


def analyse_segment(
    uri: str, people: PersonDetector, fps: float = 2.0, batch_size: int = 8
) -> tuple[list[DetectionRow], list[FrameContext]]:
    """Detections and per-frame context for the frames of `uri` sampled at `fps`.

    Raises `SegmentDecodeError` when the segment cannot be decoded (the job quarantines it).
    """
    detections: list[DetectionRow] = []
    context: list[FrameContext] = []
    version = model_version()
    previous = None
    for batch in _batches(sample_frames(uri, fps), batch_size):
        found = people.detect([frame.image for frame in batch])
        for frame, persons in zip(batch, found, strict=True):
            luma = _luma(frame.image[::4, ::4])  # a quarter resolution is plenty for statistics
            motion = float(np.abs(luma - previous).mean()) if previous is not None else 0.0
            previous = luma
            context.append(
                FrameContext(frame.index, frame.pts_s, len(persons), float(luma.mean()), motion)
            )
            detections += [
                DetectionRow(
                    frame.index,
                    frame.pts_s,
                    person.label,
                    person.confidence,
                    *person.box,
                    person.area_share,
                    MODEL_NAME,
                    version,
                )
                for person in persons
            ]
    return detections, context
