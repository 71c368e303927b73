"""What every Airflow DAG in `dags/` shares, from the `airflow` section of the configuration."""

from __future__ import annotations

from datetime import timedelta

from jobs.common.config import load_settings


def default_args() -> dict:
    """Owner and retries with exponential backoff for every task of a DAG."""
    conf = load_settings().airflow
    return {
        "owner": conf.owner,
        "retries": conf.retries,
        "retry_delay": timedelta(minutes=conf.retry_delay_minutes),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=conf.max_retry_delay_minutes),
    }
