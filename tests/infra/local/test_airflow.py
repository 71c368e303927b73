"""`brandlake airflow up|down|status`: a real Airflow 3 standalone on loopback, its REST API
listing every DAG without import errors, and every process gone after `down`."""

from __future__ import annotations

import os

import pytest

from infra.local import airflow
from jobs.common.config import load_settings
from tests.dags.conftest import DAGS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_up_serves_the_dags_on_loopback_and_down_stops_every_process(tmp_path, monkeypatch):
    monkeypatch.setenv("BRANDLAKE_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("BRANDLAKE_AIRFLOW__PORT", "0")
    settings = load_settings()
    messages: list[str] = []
    state = airflow.up(settings, log=messages.append)
    try:
        assert state.status == "running" and state.url.startswith("http://127.0.0.1:")
        assert state.passwords.exists() and "password in" in messages[-1]
        dags = airflow.api_get(state, "dags")
        # Each DAG file defines the DAG named after it.
        assert {d["dag_id"] for d in dags["dags"]} == {p.stem for p in DAGS.glob("*.py")}
        assert airflow.api_get(state, "importErrors")["total_entries"] == 0
        assert airflow.up(settings, log=messages.append).pid == state.pid  # idempotent
    finally:
        airflow.down(settings, log=messages.append)
    with pytest.raises(ProcessLookupError):
        os.killpg(state.pid, 0)  # no process of its group is left
    assert airflow.status(settings).status == "stopped"
