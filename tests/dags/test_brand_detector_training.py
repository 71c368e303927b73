"""The training DAG end to end with `dag.test()`: the tiny profile trains a real candidate, the
shipped model is the champion of a registry of the test's own, and the alias moves only when the
promotion rule says so (both ways)."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from jobs.common.config import load_settings
from jobs.common.registry import tracking_uri
from tests.dags.conftest import run_dag

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
NAME = "brand-detector"


@pytest.fixture
def registry_env(tmp_path, stack) -> dict[str, str]:
    return {
        "BRANDLAKE_MODELS__TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "BRANDLAKE_MODELS__ARTIFACT_ROOT": str(tmp_path / "artifacts"),
        "BRANDLAKE_TRAIN__PROMOTION__BROADCAST_SECONDS": "4",
    }


def versions(monkeypatch, env):
    """(the champion's version, {version: model version}, {version: its run's source tag})."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    client = MlflowClient(tracking_uri(load_settings()))
    champion = client.get_model_version_by_alias(NAME, "champion")
    found = {v.version: v for v in client.search_model_versions(f"name='{NAME}'")}
    sources = {k: client.get_run(v.run_id).data.tags.get("source") for k, v in found.items()}
    return champion.version, found, sources


def test_a_worse_candidate_is_registered_and_the_champion_stays(dag_bag, registry_env, monkeypatch):
    run = run_dag(
        dag_bag, "brand_detector_training", registry_env, monkeypatch, {"profile": "tiny"}
    )
    assert run.state == "success"
    champion, found, sources = versions(monkeypatch, registry_env)
    candidate = next(v for v in found.values() if v.tags.get("promotion.decision"))
    assert candidate.tags["promotion.decision"] == "rejected"
    assert champion != candidate.version and sources[champion] == "shipped"
    reasons = candidate.tags["promotion.reasons"]
    assert "worse: mAP50" in reasons and "broadcast recall" in reasons, reasons
    metrics = MlflowClient(tracking_uri(load_settings())).get_run(candidate.run_id).data.metrics
    assert {"val_map50", "broadcast_precision", "broadcast_recall"} <= set(metrics)


def test_a_candidate_the_rule_accepts_becomes_the_champion(dag_bag, registry_env, monkeypatch):
    lenient = {
        **registry_env,
        "BRANDLAKE_TRAIN__PROMOTION__MIN_MAP50_GAIN": "-1",
        "BRANDLAKE_TRAIN__PROMOTION__MAX_PRECISION_DROP": "1",
        "BRANDLAKE_TRAIN__PROMOTION__MAX_RECALL_DROP": "1",
        "BRANDLAKE_TRAIN__PROMOTION__MAX_SECONDS_ERROR_INCREASE": "10",
    }
    run = run_dag(dag_bag, "brand_detector_training", lenient, monkeypatch, {"profile": "tiny"})
    assert run.state == "success"
    champion, found, sources = versions(monkeypatch, lenient)
    assert found[champion].tags["promotion.decision"] == "promoted"
    assert sources[champion] != "shipped"
    assert found[champion].tags["promotion.champion_version"]  # it replaced the shipped one
