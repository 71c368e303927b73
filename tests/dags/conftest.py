"""Airflow for the DAG tests: its own home with a SQLite metadata database (migrated once), this
repository's `dags/` folder, no examples. Airflow reads its configuration when first imported,
so only these tests import it, and only after this fixture has run."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("airflow_home")
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
    }
    os.environ.update(env)
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, env=os.environ)
    return env


@pytest.fixture(scope="session")
def dag_bag(airflow_env):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert not bag.import_errors, bag.import_errors
    return bag


def run_dag(dag_bag, dag_id: str, env: dict[str, str], monkeypatch, conf: dict | None = None):
    """Run a DAG in this process with `dag.test()`, its tasks seeing `env`; returns the run.
    A failing task is retried as configured, but a second apart (`dag.test()` waits out the
    real backoff: minutes)."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    dag = dag_bag.dags[dag_id]
    for task in dag.tasks:
        monkeypatch.setattr(task, "retry_delay", timedelta(seconds=1))
        monkeypatch.setattr(task, "max_retry_delay", timedelta(seconds=1))
    return dag.test(run_conf=conf)
