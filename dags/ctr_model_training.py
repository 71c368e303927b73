"""
### CTR model training (daily)

`brandlake train ctr-model`: the impressions of the last `models.ctr_model.lookback_hours` from
`bronze.auctions`, each labelled with whether its viewer clicked (last touch within
`models.ctr_model.attribution_minutes`), split by time; a factorization machine (PyTorch) and a
logistic-regression baseline trained on the older part and scored with the champion on the
newest (AUC, log loss, normalised entropy, calibration per slot type and device, next to the
AUC of the simulator's true click probabilities). Registered in MLflow as `ctr-model`; the
`champion` alias, which the ad server ranks cpc bids with, moves only when the new model beats
both the baseline and the champion. Code: `jobs/ctr/`, `jobs/train/ctr_model.py`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from jobs.scheduling import default_args


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["brandlake", "yield", "training"],
    doc_md=__doc__,
)
def ctr_model_training():
    @task
    def train_and_maybe_promote() -> dict:
        from jobs.entrypoint import command_settings
        from jobs.train.ctr_model import train_ctr_model

        report = train_ctr_model(command_settings())
        return {k: v for k, v in report.items() if k != "scores"}

    train_and_maybe_promote()


ctr_model_training()
