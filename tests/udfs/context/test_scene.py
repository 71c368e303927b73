"""Scene context with the shipped EfficientNet-Lite0 and few-shot prototypes."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from jobs.sample_media.scenes import load_photo
from tests.media import shared_video
from udfs.context.scene import ImageEmbedder, ScenePrototypes
from udfs.decoding.frames import sample_frames
from udfs.detection.backends import installed

EXPORTED = [b for b in ("onnxruntime", "openvino") if installed(b, "cpu")]


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


@pytest.mark.skipif(not EXPORTED, reason="neither onnxruntime nor openvino is installed")
@pytest.mark.parametrize("backend", EXPORTED)
def test_the_exported_embedder_gives_torchs_vectors_and_labels(
    backend, embedder, tmp_path, monkeypatch
):
    # its own exports folder: exported here, not an earlier run's export found in the machine's
    monkeypatch.setenv("SPARK_LOCAL_DIRS", str(tmp_path))
    footage = [f.image for f in sample_frames(str(shared_video()), fps=1.0)][:6]
    photos = [load_photo(n) for n in ("chelsea", "coffee", "rocket")]
    exported = ImageEmbedder("cpu", backend)
    assert exported.backend == backend
    assert list(tmp_path.glob("brandlake-exports/efficientnet-lite0-*/efficientnet-lite0.onnx"))
    want, got = embedder.embed(footage + photos), exported.embed(footage + photos)
    assert got.shape == want.shape and got.dtype == np.float32
    assert np.abs(got - want).max() < 1e-4
    examples = {"cats": [photos[0]], "drinks": [photos[1]], "outdoor": [photos[2]]}
    prototypes = ScenePrototypes.from_examples(embedder, examples, "other", 0.4)
    labels = [s.label for s in prototypes.classify(want)]
    assert [s.label for s in prototypes.classify(got)] == labels
    assert exported.embed([]).shape == (0, 1280)


def test_an_embedder_whose_export_cannot_be_kept_runs_on_torch(tmp_path, monkeypatch, caplog):
    """Exports live beside Spark's local dir; one that is not a folder (a misconfigured
    executor) leaves the embedder on torch, saying why."""
    not_a_folder = tmp_path / "local-dir"
    not_a_folder.write_text("")
    monkeypatch.setenv("SPARK_LOCAL_DIRS", str(not_a_folder / "spark"))
    with caplog.at_level(logging.WARNING):
        fallback = ImageEmbedder("cpu", "onnxruntime")
    assert fallback.backend == "torch"
    assert "efficientnet-lite0: no onnxruntime export (cannot keep exports under" in caplog.text
    assert fallback.embed([load_photo("coffee")]).shape == (1, 1280)
