"""On-screen text: the lines a frame shows, with their boxes, read by PP-OCRv4.

The detection and recognition models ship as ONNX inside `rapidocr-onnxruntime` (Apache-2.0) and
run on ONNX Runtime in the worker, offline. A frame with no text, or with text too unclear to
read, gives no lines (never an error).

Finding text is three quarters of the time at 1280 px and needs far fewer pixels than reading
it: the lines are found on a copy scaled to `detect_side` and read from the frame as given (at
640 px the recogniser loses the spaces between a caption's words; the detector does not).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version

import cv2
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

    # "max": the detector takes the copy as given (its default scales a 720-line frame up).
    return RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1, det_limit_type="max")


class TextReader:
    """Reads the lines of text in RGB frames; lines under `min_confidence` are left out.

    `threads`: ONNX Runtime's threads (the task's share of the cores); `detect_side`: the
    longer side (px) of the copy lines are found on (0: the frame as given)."""

    def __init__(
        self, min_confidence: float = 0.6, threads: int = 1, detect_side: int = 640
    ) -> None:
        self.min_confidence = min_confidence
        self.detect_side = detect_side
        self.engine = _engine(threads)

    def read_frames(self, frames: list[np.ndarray]) -> list[list[TextLine]]:
        """The lines of each frame (the engine takes one frame at a time)."""
        return [self.read(frame) for frame in frames]

    def read(self, frame: np.ndarray) -> list[TextLine]:
        height, width = frame.shape[:2]
        # The engine takes OpenCV's BGR order.
        image = np.ascontiguousarray(frame[..., 2::-1])
        found = self._find(image)
        if not found:
            return []
        # No angle classifier: it is for rotated text, which captions and lower thirds are not.
        recognised, _ = self.engine.text_rec(self.engine.get_crop_img_list(image, found))
        lines = []
        for corners, (text, confidence) in zip(found, recognised, strict=True):
            if float(confidence) < self.min_confidence or not text.strip():
                continue
            xs, ys = corners[:, 0], corners[:, 1]
            box = (
                max(0.0, float(xs.min()) / width),
                max(0.0, float(ys.min()) / height),
                min(1.0, float(xs.max()) / width),
                min(1.0, float(ys.max()) / height),
            )
            lines.append(TextLine(text.strip(), float(confidence), box))
        return lines

    def _find(self, image: np.ndarray) -> list[np.ndarray]:
        """The corners of each line of text in `image` (BGR), in its pixels."""
        longest = max(image.shape[:2])
        scale = self.detect_side / longest if 0 < self.detect_side < longest else 1.0
        if scale < 1.0:
            size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        corners, _ = self.engine.text_det(image)
        if corners is None:
            return []
        return [np.asarray(c, np.float32) / scale for c in corners]
