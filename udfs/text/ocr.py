"""On-screen text: the lines a frame shows, with their boxes, read by PP-OCRv4.

The detection and recognition models ship as ONNX inside `rapidocr-onnxruntime` (Apache-2.0) and
run on ONNX Runtime in the worker, offline. A frame with no text, or with text too unclear to
read, gives no lines (never an error).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version

import numpy as np

MODEL_NAME = "pp-ocrv4"


def model_version() -> str:
    return f"rapidocr-onnxruntime {version('rapidocr-onnxruntime')}"


@dataclass(frozen=True)
class TextLine:
    """One line of text; the box is normalised to the frame (x1, y1, x2, y2 in 0..1)."""

    text: str
    confidence: float
    box: tuple[float, float, float, float]


@lru_cache(maxsize=2)
def _engine(threads: int):
    # Once per Python worker: loading the three models takes about a second.
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)


class TextReader:
    """Reads the lines of text in RGB frames; lines under `min_confidence` are left out.

    `threads`: ONNX Runtime's threads (the task's share of the cores)."""

    def __init__(self, min_confidence: float = 0.6, threads: int = 1) -> None:
        self.min_confidence = min_confidence
        self.engine = _engine(threads)

    def read_frames(self, frames: list[np.ndarray]) -> list[list[TextLine]]:
        """The lines of each frame (the engine takes one frame at a time)."""
        return [self.read(frame) for frame in frames]

    def read(self, frame: np.ndarray) -> list[TextLine]:
        height, width = frame.shape[:2]
        # The engine takes OpenCV's BGR order; the angle classifier is for rotated text,
        # which captions and lower thirds are not.
        found, _ = self.engine(np.ascontiguousarray(frame[..., 2::-1]), use_cls=False)
        lines = []
        for corners, text, confidence in found or []:
            if float(confidence) < self.min_confidence or not text.strip():
                continue
            xs, ys = [p[0] for p in corners], [p[1] for p in corners]
            box = (
                max(0.0, min(xs) / width),
                max(0.0, min(ys) / height),
                min(1.0, max(xs) / width),
                min(1.0, max(ys) / height),
            )
            lines.append(TextLine(text.strip(), float(confidence), box))
        return lines
