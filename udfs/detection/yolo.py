"""Ultralytics YOLO detectors in batches: one model per Python worker, weights file and device.

License: Ultralytics code and YOLO11 weights are AGPL-3.0.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from udfs.environment import offline_models


@dataclass(frozen=True)
class Detection:
    """One object in a frame; the box is normalised to the frame (x1, y1, x2, y2 in 0..1)."""

    label: str
    confidence: float
    box: tuple[float, float, float, float]

    @property
    def area_share(self) -> float:
        x1, y1, x2, y2 = self.box
        return max(0.0, x2 - x1) * max(0.0, y2 - y1)


@lru_cache(maxsize=8)
def _load(weights: str, task: str, device: str, backend: str, image_size: int):
    # Spark reuses Python workers across batches, so each model loads once per worker.
    offline_models()
    from udfs.artefacts import exports_cache
    from udfs.detection.backends import load

    return load(weights, task, device, backend, image_size, exports_cache())


class YoloDetector:
    """Finds the model's classes in RGB frames on `device` (see `udfs.devices.torch_device`),
    with the model run by `backend` (`udfs.detection.backends`: `auto` picks the device's
    fastest).

    `model_name` and `model_version` are recorded on every row the detections become; the
    version names the backend that ran it unless that is torch (`brand-detector v3 openvino`).
    """

    task = "detect"

    def __init__(
        self,
        weights: str,
        device: str,
        confidence: float,
        image_size: int,
        model_name: str,
        model_version: str,
        backend: str = "torch",
    ) -> None:
        from udfs.detection.backends import choose

        self.device = device
        self.confidence = confidence
        self.image_size = image_size
        self.model_name = model_name
        self.model, self.backend = _load(
            weights, self.task, device, choose(backend, device), image_size
        )
        suffix = "" if self.backend == "torch" else f" {self.backend}"
        self.model_version = model_version + suffix

    def detect(self, frames: list[np.ndarray]) -> list[list[Detection]]:
        """Objects in each frame (RGB, height x width x 3)."""
        if not frames:
            return []
        import torch

        threads = torch.get_num_threads()
        # Ultralytics takes numpy images as BGR, OpenCV's order.
        results = self.model.predict(
            [np.ascontiguousarray(frame[..., 2::-1]) for frame in frames],
            conf=self.confidence,
            imgsz=self.image_size,
            device=self.device,
            verbose=False,
        )
        # Its first predict sets torch's CPU threads to cores - 1 for the whole process; keep
        # the worker's own setting (frame_analysis shares the cores among concurrent tasks).
        torch.set_num_threads(threads)
        names = self.model.names
        detections = []
        for result in results:
            boxes = result.boxes
            normalised = boxes.xyxyn.cpu().numpy().tolist()
            scores = boxes.conf.cpu().numpy().tolist()
            classes = boxes.cls.cpu().numpy().astype(int).tolist()
            detections.append(
                [
                    Detection(names[cls], float(score), tuple(float(v) for v in box))
                    for box, score, cls in zip(normalised, scores, classes, strict=True)
                ]
            )
        return detections
