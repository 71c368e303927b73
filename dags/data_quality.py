"""
### Data quality (hourly)

Great Expectations over the lake's recent rows (`data_quality.lookback_hours`): the columns,
enums, ranges and patterns `schemas/` declares, unique ids, share of voice summing to 1 per
stream-minute, gold impressions found in bronze, and every stream's analysis fresh. Each result
goes to `ops.data_quality_results` (the dashboard's Health page) and to GX Data Docs under the
run directory; a failed critical expectation fails the task with the table, the expectation and
sample rows. Code: `jobs/quality/`.
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
    tags=["brandlake", "data-quality"],
    doc_md=__doc__,
)
def data_quality():
    @task
    def check_the_lake() -> dict:
        from jobs.entrypoint import command_settings
        from jobs.quality.run import run_quality

        return run_quality(command_settings())

    check_the_lake()


data_quality()
