"""The `brandlake` console script, run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BRANDLAKE = str(Path(sys.executable).with_name("brandlake"))


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BRANDLAKE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_a_bad_setting_exits_2_with_the_key_and_value(tmp_path):
    result = run(
        "services",
        "status",
        env={"BRANDLAKE_HOME": str(tmp_path), "BRANDLAKE_DELTA__WRITER": "carrier-pigeon"},
    )
    assert result.returncode == 2
    assert (
        "delta.writer = 'carrier-pigeon' (from environment BRANDLAKE_DELTA__WRITER)"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_status_lists_the_embedded_services(stack):
    result = run("services", "status")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [["broker", "running"], ["redis", "running"]]


def test_simulate_without_a_broker_says_so(tmp_path):
    result = run(
        "simulate",
        "--count",
        "10",
        env={"BRANDLAKE_HOME": str(tmp_path), "BRANDLAKE_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1"},
    )
    assert result.returncode == 1
    assert "cannot reach the Kafka broker at 127.0.0.1:1" in result.stderr
    assert "brandlake services up" in result.stderr


def test_tables_lists_every_table_before_any_exists(tmp_path):
    result = run("tables", env={"BRANDLAKE_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    for name in (
        "bronze.segments",
        "bronze.impressions",
        "bronze.viewer_events",
        "bronze.quarantine",
    ):
        assert name in result.stdout


def test_spark_sql_runs_statements_from_the_command_line_and_stdin(tmp_path):
    env = {"BRANDLAKE_HOME": str(tmp_path), "BRANDLAKE_SERVICES__BROKER__PORT": "0"}
    result = run("spark-sql", "select 41 + 1 as answer", env=env)
    assert result.returncode == 0, result.stderr
    assert "answer" in result.stdout and "42" in result.stdout
    piped = subprocess.run(
        [BRANDLAKE, "spark-sql"],
        input="select 'a' as first; select 'b' as second;",
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert piped.returncode == 0, piped.stderr
    assert "first" in piped.stdout and "second" in piped.stdout
