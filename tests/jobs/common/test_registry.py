"""The MLflow registry: versions, the champion alias that moves only on improvement, loading."""

from __future__ import annotations

import json
import tempfile

import pytest

from jobs.common.config import load_settings
from jobs.common.registry import (
    NoChampionError,
    champion,
    register_shipped,
    register_weights,
    tracking_uri,
)
from udfs.detection.backends import installed


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))
    return load_settings()


def register(settings, tmp_path, score: float, content: bytes):
    weights = tmp_path / f"best-{score}.pt"
    weights.write_bytes(content)
    return register_weights(
        settings, "brand-detector", weights, score, {"epochs": 1}, {"recall": 0.5}, {"t": "x"}
    )


def test_no_champion_is_a_clear_error(settings):
    with pytest.raises(NoChampionError, match="brandlake train scene-model"):
        champion(settings, "scene-model")  # nothing registered, nothing shipped
    assert tracking_uri(settings).startswith("sqlite:///") and settings.run_dir in tracking_uri(
        settings
    )


def test_the_alias_moves_only_when_the_new_version_is_better(settings, tmp_path):
    first = register(settings, tmp_path, 0.60, b"first")
    assert (first.version, first.promoted, first.previous_champion) == ("1", True, None)
    worse = register(settings, tmp_path, 0.55, b"worse")
    assert (worse.version, worse.promoted) == ("2", False)
    assert worse.previous_champion.version == "1"
    loaded = champion(settings, "brand-detector")
    assert (loaded.version, loaded.score, loaded.label) == ("1", 0.60, "brand-detector v1")
    assert loaded.weights.read_bytes() == b"first"
    better = register(settings, tmp_path, 0.70, b"better")
    assert (better.version, better.promoted) == ("3", True)
    loaded = champion(settings, "brand-detector")
    assert loaded.version == "3" and loaded.weights.read_bytes() == b"better"

    import mlflow

    run = mlflow.get_run(better.run_id)
    assert run.data.metrics["map50"] == 0.70 and run.data.params["epochs"] == "1"


def test_a_score_is_logged_under_what_it_measures(settings, tmp_path):
    """A model scored by AUC logs `auc`, not the detector's `map50`; the alias still compares
    scores."""
    import mlflow

    weights = tmp_path / "ctr.pt"
    weights.write_bytes(b"ctr")
    first = register_weights(settings, "ctr-test", weights, 0.71, {}, {}, {}, score_name="auc")
    second = register_weights(settings, "ctr-test", weights, 0.69, {}, {}, {}, score_name="auc")
    assert "auc" in mlflow.get_run(first.run_id).data.metrics
    assert "map50" not in mlflow.get_run(first.run_id).data.metrics
    version = mlflow.MlflowClient().get_model_version("ctr-test", second.version)
    assert version.tags["score_name"] == "auc" and float(version.tags["score"]) == 0.69
    assert not second.promoted and champion(settings, "ctr-test").score == 0.71


def test_a_shipped_model_registers_only_when_it_detects_the_catalog_brands(settings, tmp_path):
    folder = tmp_path / "models" / "brand-detector"
    folder.mkdir(parents=True)
    (folder / "brand-detector.pt").write_bytes(b"weights")
    provenance = {"classes": ["only-one"], "metrics": {"map50": 0.9, "recall": 0.8},
                  "dataset": {"fingerprint": "f"}, "code_commit": "c"}  # fmt: skip
    (folder / "provenance.json").write_text(json.dumps(provenance))
    assert register_shipped(settings, "brand-detector", tmp_path / "models") is None
    provenance["classes"] = [b.brand_id for b in settings.catalog.brands]
    (folder / "provenance.json").write_text(json.dumps(provenance))
    registered = register_shipped(settings, "brand-detector", tmp_path / "models")
    assert (registered.version, registered.promoted, registered.score) == ("1", True, 0.9)
    import mlflow

    run = mlflow.get_run(registered.run_id)
    assert run.data.tags["source"] == "shipped" and run.data.metrics["recall"] == 0.8


@pytest.mark.skipif(
    not installed("onnxruntime", "cpu"),
    reason="onnxruntime is not installed: no export to register",
)
def test_a_detectors_exports_travel_with_its_version_to_the_executors(
    settings, tmp_path, monkeypatch
):
    """Registered with its exports, a detector version's ONNX (and OpenVINO) exports reach an
    executor's exports cache with its weights, under the key the detectors look them up by:
    the executor does not export it again."""
    from udfs.artefacts import exports_cache, local_weights
    from udfs.detection.backends import _key, exported
    from udfs.detection.person import weights_path

    weights = tmp_path / "detector.pt"
    weights.write_bytes(weights_path().read_bytes())
    registration = register_weights(
        settings, "people-test", weights, 0.5, {}, {}, {}, export_size=320
    )
    import mlflow

    logged = {a.path for a in mlflow.MlflowClient().list_artifacts(registration.run_id, "exports")}
    key = _key(weights, "onnxruntime", 320, "cpu")
    assert f"exports/{key}" in logged
    # a fresh machine: its own scratch and Spark local dirs
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("SPARK_LOCAL_DIRS", str(tmp_path / "executor"))
    source = f"{mlflow.get_run(registration.run_id).info.artifact_uri}/weights"
    fetched = local_weights("people-test", registration.version, source)
    assert fetched.read_bytes() == weights.read_bytes()
    onnx = exports_cache() / key / "detector.onnx"
    assert onnx.is_file()
    made = onnx.stat().st_mtime_ns
    assert exported(fetched, "onnxruntime", 320, "cpu", exports_cache()) == onnx
    assert onnx.stat().st_mtime_ns == made  # found, not made again
    assert len(logged) == len([p for p in exports_cache().iterdir() if not p.name.startswith(".")])
