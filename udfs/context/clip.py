"""Scene context with CLIP (open_clip), where its weights are configured: image embeddings and
zero-shot labels from text prompts. The prompts' text embeddings are the scene prototypes, so
the output has the same form as the CNN path's (`udfs/context/scene.py`).

No CLIP weights ship in any installable package; `models.scene.clip` names a weights file (or a
hub name on a machine that can reach the hub). `models.scene.clip_architecture` is an open_clip
model name or the path of a model config JSON (for fine-tuned or custom architectures).
License: open_clip is MIT; the weights carry their own licenses.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import numpy as np

from udfs.context.scene import ScenePrototypes
from udfs.environment import offline_models


class ClipUnavailableError(RuntimeError):
    """The configured CLIP weights or architecture cannot be loaded here."""


def _architecture_name(architecture: str) -> str:
    offline_models()
    import open_clip

    if architecture.endswith(".json"):
        if not Path(architecture).is_file():
            raise ClipUnavailableError(f"CLIP model config {architecture} does not exist")
        open_clip.add_model_config(architecture)
        return Path(architecture).stem
    return architecture


@lru_cache(maxsize=2)
def _load(architecture: str, weights: str, device: str):
    # Once per Python worker and device.
    offline_models()
    import open_clip

    name = _architecture_name(architecture)
    looks_like_path = "/" in weights or weights.endswith((".pt", ".bin", ".safetensors"))
    if looks_like_path and not Path(weights).is_file():
        raise ClipUnavailableError(f"CLIP weights {weights} do not exist (models.scene.clip)")
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            name, pretrained=weights, device=device
        )
    except Exception as error:
        raise ClipUnavailableError(
            f"cannot load CLIP {name} with weights {weights!r}: {error}. Offline, "
            "models.scene.clip must be a weights file; leave it empty for the shipped CNN."
        ) from error
    return model.eval(), preprocess, open_clip.get_tokenizer(name)


class ClipEmbedder:
    """Unit-length CLIP image embeddings, and text prototypes for zero-shot scene labels."""

    def __init__(self, architecture: str, weights: str, device: str) -> None:
        self.device = device
        self.model, self.preprocess, self.tokenizer = _load(architecture, weights, device)
        self.name = f"open_clip {version('open_clip_torch')} {Path(architecture).stem}"

    def embed(self, frames: list[np.ndarray]) -> np.ndarray:
        import torch
        from PIL import Image

        if not frames:
            return np.zeros((0, self.model.visual.output_dim), np.float32)
        batch = torch.stack([self.preprocess(Image.fromarray(f[..., :3])) for f in frames])
        with torch.inference_mode():
            features = self.model.encode_image(batch.to(self.device))
            features = torch.nn.functional.normalize(features.float(), dim=1)
        return features.cpu().numpy()

    def text_prototypes(self, labels: list[str], prompt: str, fallback: str) -> ScenePrototypes:
        """One prototype per label: the embedding of `prompt` with the label filled in. Every
        label has one, so the nearest always wins (`min_similarity` -1)."""
        import torch

        tokens = self.tokenizer([prompt.format(label=label) for label in labels])
        with torch.inference_mode():
            features = self.model.encode_text(tokens.to(self.device))
            features = torch.nn.functional.normalize(features.float(), dim=1)
        return ScenePrototypes(tuple(labels), features.cpu().numpy(), fallback, -1.0)
