"""The brand detector shipped in models/brand-detector/: it is what the current dataset generator
trains (or this fails, saying to retrain), it detects the catalog's brands, and an empty
registry takes it as its first champion."""

from __future__ import annotations

import pytest

from jobs.common.config import load_settings
from jobs.common.registry import champion, shipped
from jobs.train.brand_dataset import GENERATOR_VERSION, label_digest
from jobs.train.brand_detector import dataset_spec

RETRAIN = (
    "the dataset generator or the {profile} profile changed since the shipped brand detector "
    "was trained: retrain and ship it (`brandlake train brand-detector --profile {profile} "
    "--ship`, then `brandlake evaluate brand-detector --weights "
    "models/brand-detector/brand-detector.pt --out models/brand-detector/generalisation.json`)"
)


@pytest.fixture(scope="module")
def provenance():
    found = shipped("brand-detector")
    assert found is not None, "models/brand-detector/ has no brand-detector.pt or provenance"
    return found[1]


def test_the_shipped_model_is_what_the_current_generator_trains(provenance):
    settings = load_settings()
    profile = provenance["profile"]
    spec = dataset_spec(settings, profile)
    dataset = provenance["dataset"]
    message = RETRAIN.format(profile=profile)
    assert dataset["generator_version"] == GENERATOR_VERSION, message
    assert (
        spec.fingerprint([b.brand_id for b in settings.catalog.brands]) == dataset["fingerprint"]
    ), message
    assert label_digest(spec, settings.catalog.brands) == dataset["label_digest"], message


def test_the_shipped_model_detects_the_catalog_brands(provenance):
    from ultralytics import YOLO

    weights, _ = shipped("brand-detector")
    brands = [b.brand_id for b in load_settings().catalog.brands]
    assert provenance["classes"] == brands
    assert list(YOLO(str(weights)).names.values()) == brands
    assert weights.stat().st_size < 20_000_000  # a few MB in the repository
    for key in ("command", "code_commit", "metrics", "params"):
        assert provenance[key], key


def test_an_empty_registry_takes_the_shipped_model_as_champion(tmp_path, monkeypatch):
    monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))
    settings = load_settings()
    loaded = champion(settings, "brand-detector")
    weights, provenance = shipped("brand-detector")
    assert loaded.version == "1" and loaded.weights.read_bytes() == weights.read_bytes()
    assert loaded.score == pytest.approx(provenance["metrics"]["map50"])
    assert champion(settings, "brand-detector").version == "1"  # registered once
