"""Scene context with the shipped EfficientNet-Lite0 and few-shot prototypes."""

from __future__ import annotations

import numpy as np
import pytest

from jobs.sample_media.scenes import load_photo
from udfs.context.scene import ImageEmbedder, ScenePrototypes


@pytest.fixture(scope="module")
def embedder():
    return ImageEmbedder("cpu")


def crop(image: np.ndarray, share: float, corner: int) -> np.ndarray:
    height, width = image.shape[:2]
    h, w = int(height * share), int(width * share)
    y, x = [(0, 0), (height - h, width - w), (0, width - w), (height - h, 0)][corner]
    return image[y : y + h, x : x + w]


def test_embeddings_are_unit_vectors_that_tell_photographs_apart(embedder):
    photos = [load_photo(n) for n in ("chelsea", "coffee", "rocket")]
    vectors = embedder.embed(photos)
    assert vectors.shape == (3, 1280)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    # A view of the same photograph is nearer than the other photographs.
    same = embedder.embed([crop(photos[0], 0.8, 1)])[0]
    assert same @ vectors[0] > max(same @ vectors[1], same @ vectors[2]) + 0.2


def test_unseen_views_get_their_labels_and_a_flat_frame_falls_back(embedder):
    examples = {
        "cats": [crop(load_photo("chelsea"), 0.7, c) for c in (0, 1)],
        "drinks": [crop(load_photo("coffee"), 0.7, c) for c in (0, 1)],
        "outdoor": [crop(load_photo("rocket"), 0.7, c) for c in (0, 1)],
    }
    prototypes = ScenePrototypes.from_examples(embedder, examples, "other", 0.4)
    views = [
        crop(load_photo(name), 0.7, corner)
        for name in ("chelsea", "coffee", "rocket")
        for corner in (2, 3)
    ]
    views.append(np.full((360, 640, 3), 90, np.uint8))
    scenes = prototypes.classify(embedder.embed(views))
    assert [s.label for s in scenes] == [*["cats"] * 2, *["drinks"] * 2, *["outdoor"] * 2, "other"]
    assert set(scenes[0].scores) == {"cats", "drinks", "outdoor"}
    again = ScenePrototypes.from_examples(embedder, examples, "other", 0.4)
    assert again.fingerprint == prototypes.fingerprint


def test_prototypes_need_at_least_one_example(embedder):
    with pytest.raises(ValueError, match="at least one label"):
        ScenePrototypes.from_examples(embedder, {"news": []}, "other", 0.4)
