"""The CLIP path, with a small open_clip model saved to a file as configured weights.

No CLIP weights can be obtained here, so the model is randomly initialised: this checks the
path (architecture from a config file, weights from a file, image and text embeddings, zero-shot
labels), not the quality of CLIP's labels.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from jobs.sample_media.scenes import load_photo
from udfs.context.clip import ClipEmbedder, ClipUnavailableError

TINY = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 1, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 1, "layers": 1},
}


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    import open_clip
    import torch

    folder = tmp_path_factory.mktemp("clip")
    config = folder / "tiny-clip.json"
    config.write_text(json.dumps(TINY))
    open_clip.add_model_config(str(config))
    torch.manual_seed(0)
    model = open_clip.create_model("tiny-clip")
    weights = folder / "tiny-clip.pt"
    torch.save(model.state_dict(), weights)
    return str(config), str(weights)


def test_zero_shot_labels_from_configured_weights(tiny_clip):
    config, weights = tiny_clip
    embedder = ClipEmbedder(config, weights, "cpu")
    frames = [load_photo(n) for n in ("astronaut", "rocket", "coffee")]
    vectors = embedder.embed(frames)
    assert vectors.shape == (3, 32)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    labels = ["news", "sports", "outdoor", "other"]
    prototypes = embedder.text_prototypes(labels, "a video frame of {label}", "other")
    scenes = prototypes.classify(vectors)
    assert all(s.label in labels and set(s.scores) == set(labels) for s in scenes)
    # The weights come from the file: a second load gives the same embeddings.
    again = ClipEmbedder(config, weights, "cpu").embed(frames)
    assert np.allclose(again, vectors, atol=1e-6)


def test_missing_weights_are_a_clear_error(tiny_clip, tmp_path):
    config, _ = tiny_clip
    with pytest.raises(ClipUnavailableError, match="do not exist"):
        ClipEmbedder(config, str(tmp_path / "nowhere.pt"), "cpu")
    with pytest.raises(ClipUnavailableError, match="cannot load CLIP"):
        ClipEmbedder("ViT-B-32", "laion2b_s34b_b79k", "cpu")  # a hub name, offline


def test_frame_analysis_labels_scenes_with_clip_when_configured(tiny_clip, tmp_path, monkeypatch):
    """The job's transform, run in this process on one real segment, with CLIP configured."""
    from datetime import UTC, datetime

    import pyarrow as pa

    from jobs.common.config import load_settings
    from jobs.control.modes import ModeSchedule, samplings
    from jobs.frame_analysis import AnalyseSegments, resolve_models
    from schemas.events import KAFKA_RECORD
    from tests.media import vtest_segment

    config, weights = tiny_clip
    monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))
    settings = load_settings(
        {
            "models.brand_detector.enabled": False,
            "models.safety_enabled": False,
            "models.scene.clip": weights,
            "models.scene.clip_architecture": config,
        }
    )
    models = resolve_models(settings)
    assert models.clip == (config, weights) and models.prototypes.labels == tuple(
        settings.models.scene.labels
    )
    event = {
        "event_id": "cam-4", "stream_id": "cam", "sequence": 4,
        "uri": vtest_segment(tmp_path).as_uri(), "start_time": "2026-11-22T08:00:08Z",
        "duration_s": 2.0, "width": 1280, "height": 720, "fps": 25.0, "codec": "h264",
        "bytes": 1,
    }  # fmt: skip
    record = {
        "key": b"cam", "value": json.dumps(event).encode(), "topic": "segments", "partition": 0,
        "offset": 0, "timestamp": datetime.now(UTC), "timestampType": 0,
    }  # fmt: skip
    batch = pa.RecordBatch.from_pylist([record], schema=KAFKA_RECORD)
    standard = ModeSchedule(settings.processing.default_mode)
    tables = AnalyseSegments(models, samplings(settings), standard, 8, datetime.now(UTC))(batch)
    context = tables["silver.segment_context"].to_pylist()
    assert len(context) == 4
    for row in context:
        assert row["scene_label"] in settings.models.scene.labels
        assert len(row["scene_embedding"]) == 32 and row["safety_score"] is None
        assert "open_clip" in row["models"] and "tiny-clip" in row["models"]
        assert (row["processing_mode"], row["sample_fps"]) == ("standard", 2.0)
