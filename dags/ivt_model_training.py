"""
### Invalid-traffic model training (daily)

`brandlake train ivt-model`: the viewer-minutes of the last `models.ivt_model.lookback_hours`
from `silver.impressions`, `silver.clicks` and `silver.player_events`, each with the rules'
verdict; an isolation forest fitted on the older ones the rules passed, flagging the
`models.ivt_model.flag_share` most unusual, scored with the champion on the newest minutes.
Registered in MLflow as `ivt-model`; the `champion` alias, which exposure_revenue scores
invalid traffic with from its next start, moves only when the new model finds at least as many
of the rules' catches unusual and flags at most twice `flag_share`. Code: `jobs/audience/`,
`jobs/train/ivt_model.py`.
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
    tags=["brandlake", "audience", "training"],
    doc_md=__doc__,
)
def ivt_model_training():
    @task
    def train_and_maybe_promote() -> dict:
        from jobs.entrypoint import command_settings
        from jobs.train.ivt_model import train_ivt_model

        report = train_ivt_model(command_settings())
        return {k: v for k, v in report.items() if k != "scores"}

    train_and_maybe_promote()


ivt_model_training()
