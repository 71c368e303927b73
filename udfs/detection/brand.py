"""Brands in frames, with the detector brandlake trains (`brandlake train brand-detector`) and
the MLflow registry serves as `models:/brand-detector@champion`. Labels are catalog brand ids.
"""

from __future__ import annotations

from udfs.detection.yolo import YoloDetector


class BrandDetector(YoloDetector):
    """Finds catalog brands in RGB frames; `version` is the registry's, e.g. `brand-detector v3`."""

    def __init__(
        self, weights: str, version: str, device: str, confidence: float, image_size: int
    ) -> None:
        super().__init__(weights, device, confidence, image_size, "brand-detector", version)
