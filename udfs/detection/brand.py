"""Brands in frames, with the detector brandlake trains (`brandlake train brand-detector`) and
the MLflow registry serves as `models:/brand-detector@champion`. Labels are catalog brand ids.

Each detection is then checked against the brand's colour (`models.brand_detector.colour_check`):
a logo of the brand shows its colour, so a box with almost none of it is a look-alike (another
company's badge of the same shape) and is dropped. The detector learns shapes and layout well
and colour loosely; on the held-out scene families most of its false brands were such badges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from udfs.detection.yolo import Detection, YoloDetector


@dataclass(frozen=True)
class ColourCheck:
    """A detection of brand B stands when at least `min_share` of its box's pixels are within
    `max_chroma` (CIELAB a*b* distance) and `max_lightness` (L*) of one of B's colours.

    `colours` maps brand ids to their colours as "#rrggbb"; a label without colours, or
    `min_share` 0, is never checked. Broadcast lighting moves lightness more than hue, hence two
    tolerances.
    """

    colours: tuple[tuple[str, tuple[str, ...]], ...]
    min_share: float
    max_chroma: float
    max_lightness: float

    def reference(self) -> dict[str, np.ndarray]:
        """Brand id -> its colours in CIELAB, one row each."""
        return {brand: to_lab(np.array([[_rgb(c) for c in hexes]], np.uint8))[0]
                for brand, hexes in self.colours}  # fmt: skip

    def share(self, frame: np.ndarray, box: tuple[float, ...], reference: np.ndarray) -> float:
        """The share of the box's pixels (RGB frame, normalised box) in one of the colours."""
        height, width = frame.shape[:2]
        x1, y1, x2, y2 = box
        crop = frame[int(y1 * height) : int(np.ceil(y2 * height)),
                     int(x1 * width) : int(np.ceil(x2 * width)), :3]  # fmt: skip
        if crop.size == 0:
            return 0.0
        lab = to_lab(crop).reshape(-1, 1, 3)
        chroma = np.linalg.norm(lab[..., 1:] - reference[None, :, 1:], axis=-1)
        lightness = np.abs(lab[..., 0] - reference[None, :, 0])
        near = (chroma <= self.max_chroma) & (lightness <= self.max_lightness)
        return float(near.any(axis=1).mean())


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """8-bit RGB pixels as CIELAB (L* 0..100, a* and b* about -128..127)."""
    import cv2

    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


class BrandDetector(YoloDetector):
    """Finds catalog brands in RGB frames; `version` is the registry's, e.g. `brand-detector v3`."""

    def __init__(
        self,
        weights: str,
        version: str,
        device: str,
        confidence: float,
        image_size: int,
        colour_check: ColourCheck | None = None,
        backend: str = "torch",
    ) -> None:
        super().__init__(
            weights, device, confidence, image_size, "brand-detector", version, backend
        )
        self.colour_check = colour_check if colour_check and colour_check.min_share > 0 else None
        self._reference = self.colour_check.reference() if self.colour_check else {}

    def detect(self, frames: list[np.ndarray]) -> list[list[Detection]]:
        found = super().detect(frames)
        if self.colour_check is None:
            return found
        return [[d for d in detections if self.in_brand_colour(frame, d)]
                for frame, detections in zip(frames, found, strict=True)]  # fmt: skip

    def in_brand_colour(self, frame: np.ndarray, detection: Detection) -> bool:
        """Whether the detection passes the colour check (always, for unchecked labels)."""
        reference = self._reference.get(detection.label)
        if reference is None:
            return True
        share = self.colour_check.share(frame, detection.box, reference)
        return share >= self.colour_check.min_share
