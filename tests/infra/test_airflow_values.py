"""The Airflow Helm values, checked statically (no cluster here)."""

from __future__ import annotations

from pathlib import Path

import yaml

VALUES = Path(__file__).resolve().parents[2] / "infra/airflow/values.yaml"


def test_values_run_the_image_s_dags_with_the_cluster_configuration():
    values = yaml.safe_load(VALUES.read_text())
    assert values["executor"] == "KubernetesExecutor"
    assert values["config"]["core"]["dags_folder"] == "/opt/brandlake/dags"
    env = {e["name"]: e["value"] for e in values["env"]}
    assert env["BRANDLAKE_ENV"] == "cluster" and env["MLFLOW_DISABLE_TELEMETRY"] == "true"
    assert "secretRef" in values["extraEnvFrom"]
    text = VALUES.read_text().lower()
    assert "password:" not in text and "secret_key:" not in text
