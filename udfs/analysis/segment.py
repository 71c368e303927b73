"""Analyse one video segment: sample its frames, run every analyzer in batches, and return the
rows of `silver.detections` and `silver.segment_context` for it. Pixels stay in here.

The `frame_analysis` job calls this inside one Arrow UDF per segment; tests and benchmarks call
it directly on a file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from udfs.context.scene import ImageEmbedder, ScenePrototypes
from udfs.decoding.frames import SampledFrame, sample_frames
from udfs.detection.yolo import YoloDetector
from udfs.safety.nsfw import SafetyScorer


@dataclass(frozen=True)
class DetectionRow:
    frame_index: int
    pts_s: float
    kind: str  # brand | person
    label: str  # a catalog brand id, or "person"
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
    brand_count: int
    brightness: float  # mean luma, 0..1
    motion: float  # mean absolute luma change since the previous sampled frame, 0..1
    scene_label: str | None
    scene_scores: dict[str, float]
    embedding: np.ndarray | None
    safety_score: float | None


@dataclass
class Analyzers:
    """The models one worker runs on every sampled frame; all but people are optional."""

    people: YoloDetector
    brands: YoloDetector | None = None
    embedder: ImageEmbedder | None = None
    prototypes: ScenePrototypes | None = None
    safety: SafetyScorer | None = None

    @property
    def detectors(self) -> list[tuple[str, YoloDetector]]:
        found = [("person", self.people)]
        return found + ([("brand", self.brands)] if self.brands is not None else [])

    def warm_up(self, height: int = 720, width: int = 1280) -> None:
        """Run every model once on a blank frame: a first call sets up more than it computes."""
        blank = [np.zeros((height, width, 3), np.uint8)]
        for _, detector in self.detectors:
            detector.detect(blank)
        if self.embedder is not None:
            self.embedder.embed(blank)
        if self.safety is not None:
            self.safety.score(blank)


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
    uri: str,
    analyzers: Analyzers,
    fps: float = 2.0,
    batch_size: int = 8,
    keyframes_only: bool = False,
) -> tuple[list[DetectionRow], list[FrameContext]]:
    """Detections and per-frame context for the frames of `uri` sampled at `fps`.

    Raises `SegmentDecodeError` when the segment cannot be decoded (the job quarantines it).
    Motion is measured between sampled frames of the same segment (0 for its first frame).
    """
    detections: list[DetectionRow] = []
    context: list[FrameContext] = []
    previous = None
    for batch in _batches(sample_frames(uri, fps, keyframes_only=keyframes_only), batch_size):
        images = [frame.image for frame in batch]
        found = {kind: detector.detect(images) for kind, detector in analyzers.detectors}
        embeddings = analyzers.embedder.embed(images) if analyzers.embedder else None
        scenes = (
            analyzers.prototypes.classify(embeddings)
            if analyzers.prototypes is not None and embeddings is not None
            else None
        )
        safety = analyzers.safety.score(images) if analyzers.safety else None
        for position, frame in enumerate(batch):
            luma = _luma(frame.image[::4, ::4])  # a quarter resolution is plenty for statistics
            motion = float(np.abs(luma - previous).mean()) if previous is not None else 0.0
            previous = luma
            scene = scenes[position] if scenes else None
            context.append(
                FrameContext(
                    frame.index,
                    frame.pts_s,
                    person_count=len(found["person"][position]),
                    brand_count=len(found.get("brand", [[]] * len(batch))[position]),
                    brightness=float(luma.mean()),
                    motion=motion,
                    scene_label=scene.label if scene else None,
                    scene_scores=scene.scores if scene else {},
                    embedding=embeddings[position] if embeddings is not None else None,
                    safety_score=safety[position] if safety else None,
                )
            )
            for kind, detector in analyzers.detectors:
                detections += [
                    DetectionRow(
                        frame.index,
                        frame.pts_s,
                        kind,
                        item.label,
                        item.confidence,
                        *item.box,
                        item.area_share,
                        detector.model_name,
                        detector.model_version,
                    )
                    for item in found[kind][position]
                ]
    return detections, context
