"""The generalisation test's scoring, on a short broadcast of a held-out scene family analysed
by the shipped detector (the full report: `brandlake evaluate brand-detector`)."""

from __future__ import annotations

import pytest

from jobs.common.config import load_settings
from jobs.common.registry import shipped
from jobs.train.generalisation import brand_analyzers, render, score_broadcast


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))
    return load_settings()


def test_a_held_out_broadcast_is_scored_against_its_truth(settings, tmp_path):
    weights, _ = shipped("brand-detector")
    conf = settings.models.brand_detector
    analyzers = brand_analyzers(settings, weights, conf.image_size, conf.confidence)
    segments, truth = render(settings, "arena", 103, 6.0, tmp_path)
    assert len(segments) == 3 and truth
    score = score_broadcast("arena-103", segments, truth, analyzers, settings)
    assert score.sampled_frames == 12 and score.seconds == 6.0
    assert set(score.truth_seconds) <= {b.brand_id for b in settings.catalog.brands}
    assert score.true_positives + score.false_negatives > 0  # the truth asked for brands
    assert 0.0 <= score.precision <= 1.0 and 0.0 <= score.recall <= 1.0
    summary = score.summary()
    assert summary["counts"]["sampled_frames"] == 12
    assert summary["false_brand_frames_per_minute"] >= 0
    # Cached: a second render reads the same segments.
    assert render(settings, "arena", 103, 6.0, tmp_path)[0] == segments
