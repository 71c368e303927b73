"""
### Brand detector training (weekly, or on demand with a profile)

Builds the synthetic dataset of the chosen profile, gates its labels with Great Expectations,
trains and registers a candidate (the `champion` alias stays), evaluates the candidate and the
champion on the same evidence (held-out images; broadcasts rendered from held-out scene
families, analysed by the real analysis code), and moves `champion` only when the rule in
`train.promotion` says so. The decision and its reasons are tags of the candidate's MLflow
version; `frame_analysis` picks up a new champion between batches.

Trigger with `{"profile": "quick"}` for a shorter run. Code: `jobs/train/promotion.py`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from jobs.scheduling import default_args


@dag(
    schedule="@weekly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    params={"profile": Param("broadcast", type="string", enum=["broadcast", "quick", "tiny"])},
    tags=["brandlake", "training", "mlflow"],
    doc_md=__doc__,
)
def brand_detector_training():
    @task
    def build_dataset(params: dict | None = None) -> str:
        from jobs.entrypoint import command_settings
        from jobs.train.promotion import build_dataset

        return build_dataset(command_settings(), params["profile"])

    @task
    def label_gate(data_yaml: str, params: dict | None = None) -> dict:
        from jobs.entrypoint import command_settings
        from jobs.train.brand_detector import dataset_spec
        from jobs.train.promotion import label_gate

        settings = command_settings()
        share = dataset_spec(settings, params["profile"]).negative_share
        return label_gate(settings, data_yaml, share)

    @task
    def train_candidate(params: dict | None = None) -> str:
        from jobs.entrypoint import command_settings
        from jobs.train.promotion import train_candidate

        return train_candidate(command_settings(), params["profile"])

    @task
    def evaluate_and_decide(version: str, data_yaml: str, params: dict | None = None) -> dict:
        from jobs.entrypoint import command_settings
        from jobs.train.promotion import evaluate_and_decide

        return evaluate_and_decide(command_settings(), version, data_yaml, params["profile"])

    data_yaml = build_dataset()
    gate = label_gate(data_yaml)
    version = train_candidate()
    gate >> version
    evaluate_and_decide(version, data_yaml)


brand_detector_training()
