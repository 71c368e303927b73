"""Analyse one video segment: sample its frames, run every analyzer in batches, and return the
rows of `silver.detections` and `silver.segment_context` for it. Pixels stay in here.

Every analysed frame stands for the video from its time to the next analysed frame's (the last
one: to the segment's end): its `interval_s`, which exposure counts as screen time. Where the
brands on screen differ between two sampled frames, frames between them are analysed for
brands only (bisection: about log2(frames in the gap) of them per change), so an appearance
starts and ends at the exact frame; those `refined` frames have no people, scene or safety.

Frames at `Analyzers.text_fps` (a subset of the sampled ones) are also read for text, at the
larger size text needs (`FrameContext.text_lines`).

The `frame_analysis` job calls this inside one Arrow UDF per segment; tests and benchmarks call
it directly on a file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import TypeVar

import numpy as np
import pyarrow.fs as pafs

from udfs.context.scene import ImageEmbedder, ScenePrototypes
from udfs.decoding.frames import SampledFrame, SegmentFrames
from udfs.detection.yolo import YoloDetector
from udfs.safety.nsfw import SafetyScorer
from udfs.speech.transcribe import SpeechReader
from udfs.text.ocr import TextLine, TextReader

T = TypeVar("T")


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
    person_count: int | None  # None on refined frames (brands only)
    brand_count: int
    brightness: float  # mean luma, 0..1
    motion: float | None  # mean absolute luma change since the previous sampled frame, 0..1
    scene_label: str | None
    scene_scores: dict[str, float]
    embedding: np.ndarray | None
    safety_score: float | None
    interval_s: float = 0.0  # seconds of video it stands for: to the next analysed frame
    refined: bool = False  # analysed for brands only, to place an appearance's boundary
    text_lines: list[TextLine] | None = None  # None: not read for text (not a text frame)


@dataclass
class Analyzers:
    """The models one worker runs on every sampled frame (the job always has people; a
    brand detector's evaluation has only brands)."""

    people: YoloDetector | None
    brands: YoloDetector | None = None
    embedder: ImageEmbedder | None = None
    prototypes: ScenePrototypes | None = None
    safety: SafetyScorer | None = None
    text: TextReader | None = None
    text_fps: float = 1.0  # frames read for text per second of video (at most the sampling's)
    text_side: int = 1280  # the size they are read at (longer side, px; 0: as decoded)
    # The job's speech step, beside the frames (`udfs/speech/segment.py`): loaded with them
    speech: SpeechReader | None = None

    @property
    def input_size(self) -> int:
        """The largest input any detector takes (pixels, longer side): frames need no more."""
        return max((detector.image_size for _, detector in self.detectors), default=0)

    @property
    def detectors(self) -> list[tuple[str, YoloDetector]]:
        found = [("person", self.people)] if self.people is not None else []
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
        if self.text is not None:
            self.text.read(blank[0])
        if self.speech is not None:  # a second of faint noise (silence is not transcribed)
            self.speech.words(np.random.default_rng(0).normal(0, 0.01, 16_000).astype(np.float32))


@dataclass(frozen=True)
class ModelTimer:
    """Runs a model call and adds its wall time to `seconds[model]`."""

    seconds: dict[str, float]

    def __call__(self, model: str, call: Callable[[list[np.ndarray]], T], images) -> T:
        started = time.perf_counter()
        try:
            return call(images)
        finally:
            elapsed = time.perf_counter() - started
            self.seconds[model] = self.seconds.get(model, 0.0) + elapsed


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
    refine_boundaries: bool = True,
    filesystem: pafs.FileSystem | None = None,
    reference_only: bool = False,
    max_side: int | None = None,
    model_seconds: dict[str, float] | None = None,
) -> tuple[list[DetectionRow], list[FrameContext]]:
    """Detections and per-frame context for the frames of `uri` sampled at `fps`, plus the
    boundary frames of brand appearances (`refine_boundaries`, not with `keyframes_only`).

    Raises `SegmentDecodeError` when the segment cannot be decoded (the job quarantines it).
    Motion is measured between sampled frames of the same segment (0 for its first frame).
    `filesystem`: the object store holding `uri`, when it is not a local file.
    `reference_only`: sample among reference frames only (`SegmentFrames`). Frames are
    decoded at most `max_side` pixels large (default: the largest detector input,
    `Analyzers.input_size`; 0: as they are). `model_seconds`: each model's time (person,
    brand, scene, safety, text) is added to it.
    """
    timed = ModelTimer(model_seconds if model_seconds is not None else {})
    detections: list[DetectionRow] = []
    context: list[FrameContext] = []
    previous = None
    if max_side is None:
        max_side = analyzers.input_size
    text_fps = analyzers.text_fps if analyzers.text is not None else 0.0
    reader = SegmentFrames(
        uri, fps, keyframes_only, filesystem, reference_only, max_side, text_fps,
        analyzers.text_side,
    )  # fmt: skip
    for batch in _batches(iter(reader), batch_size):
        images = [frame.image for frame in batch]
        found = {
            kind: timed(kind, detector.detect, images) for kind, detector in analyzers.detectors
        }
        embeddings = (
            timed("scene", analyzers.embedder.embed, images) if analyzers.embedder else None
        )
        scenes = (
            analyzers.prototypes.classify(embeddings)
            if analyzers.prototypes is not None and embeddings is not None
            else None
        )
        safety = timed("safety", analyzers.safety.score, images) if analyzers.safety else None
        to_read = [frame.detail for frame in batch if frame.detail is not None]
        read = iter(timed("text", analyzers.text.read_frames, to_read) if to_read else [])
        for position, frame in enumerate(batch):
            luma = _luma(frame.image[::4, ::4])  # a quarter resolution is plenty for statistics
            motion = float(np.abs(luma - previous).mean()) if previous is not None else 0.0
            previous = luma
            scene = scenes[position] if scenes else None
            context.append(
                FrameContext(
                    frame.index,
                    frame.pts_s,
                    person_count=len(found["person"][position]) if "person" in found else None,
                    brand_count=len(found.get("brand", [[]] * len(batch))[position]),
                    brightness=float(luma.mean()),
                    motion=motion,
                    scene_label=scene.label if scene else None,
                    scene_scores=scene.scores if scene else {},
                    embedding=embeddings[position] if embeddings is not None else None,
                    safety_score=safety[position] if safety else None,
                    text_lines=next(read) if frame.detail is not None else None,
                )
            )
            for kind, detector in analyzers.detectors:
                detections += _rows(frame, kind, detector, found[kind][position])
    if refine_boundaries and not keyframes_only and analyzers.brands is not None:
        extra, extra_rows = _refine(
            reader, analyzers.brands, context, detections, batch_size, timed
        )
        context, detections = context + extra, detections + extra_rows
    context.sort(key=lambda c: c.frame_index)
    detections.sort(key=lambda d: d.frame_index)
    ends = [c.pts_s for c in context[1:]] + [reader.duration_s or context[-1].pts_s]
    context = [
        replace(c, interval_s=round(max(end - c.pts_s, 0.0), 6))
        for c, end in zip(context, ends, strict=True)
    ]
    return detections, context


def _rows(frame: SampledFrame, kind: str, detector: YoloDetector, found) -> list[DetectionRow]:
    return [
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
        for item in found
    ]


def _refine(
    reader: SegmentFrames,
    brands: YoloDetector,
    context: list[FrameContext],
    detections: list[DetectionRow],
    batch_size: int,
    timed: ModelTimer,
) -> tuple[list[FrameContext], list[DetectionRow]]:
    """Bisect every gap between sampled frames whose brands differ, all gaps in step (one
    batched detector call per round); returns the frames analysed on the way and their rows."""
    shown: dict[int, frozenset[str]] = {c.frame_index: frozenset() for c in context}
    for row in detections:
        if row.kind == "brand":
            shown[row.frame_index] = shown[row.frame_index] | {row.label}
    sampled = sorted(shown)
    # One search per brand whose presence changes inside a gap: (brand, low, high) frames.
    searches = [
        (brand, low, high)
        for low, high in pairwise(sampled)
        if high - low > 1
        for brand in sorted(shown[low] ^ shown[high])
    ]
    if not searches:
        return [], []
    between = reader.between(sorted({(low, high) for _, low, high in searches}))
    extra_context: list[FrameContext] = []
    extra_rows: list[DetectionRow] = []
    while searches:
        wanted = sorted({(low + high) // 2 for _, low, high in searches} - set(shown))
        wanted = [index for index in wanted if index in between]
        for start in range(0, len(wanted), batch_size):
            frames = [between[index] for index in wanted[start : start + batch_size]]
            found_in = timed("brand", brands.detect, [f.image for f in frames])
            for frame, found in zip(frames, found_in, strict=True):
                shown[frame.index] = frozenset(item.label for item in found)
                extra_rows += _rows(frame, "brand", brands, found)
                extra_context.append(_refined_context(frame, len(found)))
        narrowed = []
        for brand, low, high in searches:
            middle = (low + high) // 2
            if middle not in shown:  # a frame the second decode did not find: stop here
                continue
            if (brand in shown[middle]) == (brand in shown[low]):
                low = middle
            else:
                high = middle
            if high - low > 1:
                narrowed.append((brand, low, high))
        searches = narrowed
    return extra_context, extra_rows


def _refined_context(frame: SampledFrame, brand_count: int) -> FrameContext:
    luma = _luma(frame.image[::4, ::4])
    return FrameContext(
        frame.index,
        frame.pts_s,
        person_count=None,
        brand_count=brand_count,
        brightness=float(luma.mean()),
        motion=None,
        scene_label=None,
        scene_scores={},
        embedding=None,
        safety_score=None,
        refined=True,
    )
