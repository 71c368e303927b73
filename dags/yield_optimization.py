"""
### Yield optimisation (hourly)

Floor prices learnt from the ad server's auction log. A Great Expectations gate on the window's
`bronze.auctions` (schema rules, unique auction ids, prices consistent with the floor and the
top bid) must pass first: bad input never reaches the floors. Then `brandlake yield`: a rule
set learnt from the logged top-two bids (empirical revenue curve per segment under a fill
constraint), replayed with the baselines on the newest auctions, and published to Redis
`brandlake:floors` and a Prebid floors file only when it beats the rules in force; the
experiment's readout (treatment vs holdout per hour) goes to `gold.yield_experiment`. Code:
`jobs/floors/`, `jobs/yield_optimization.py`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from jobs.scheduling import default_args


@dag(
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["brandlake", "yield"],
    doc_md=__doc__,
)
def yield_optimization():
    @task
    def gate_the_auctions() -> dict:
        from jobs.entrypoint import command_settings
        from jobs.quality.run import run_quality

        return run_quality(command_settings(), docs=False, only=["bronze.auctions"])

    @task
    def learn_and_publish_floors(gate: dict) -> dict:
        from jobs.entrypoint import command_settings
        from jobs.yield_optimization import run_yield

        return run_yield(command_settings())

    learn_and_publish_floors(gate_the_auctions())


yield_optimization()
