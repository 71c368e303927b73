"""Airflow 3 on this machine: `airflow standalone` (scheduler, DAG processor, API server and
triggerer in one process group) with SQLite metadata under `<run_dir>/airflow`, the repository's
`dags/`, bound to loopback on the configured or a free port.

    brandlake airflow up | down | status

The admin password is in `<run_dir>/airflow/simple_auth_manager_passwords.json.generated`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from infra.local.services import ServiceError, alive, free_port, port_free, tail, terminate
from jobs.common.config import Settings

DAGS = Path(__file__).resolve().parents[2] / "dags"
HINT = "airflow"  # in the process's command line


@dataclass(frozen=True)
class AirflowState:
    status: str  # running | stopped | starting | stale pid
    url: str
    pid: int | None
    passwords: Path


def home(settings: Settings) -> Path:
    return Path(settings.run_dir) / "airflow"


def _state_file(settings: Settings) -> Path:
    return home(settings) / "brandlake.json"


def environment(settings: Settings, port: int) -> dict[str, str]:
    """The environment every Airflow process of this project runs with."""
    conf = settings.airflow
    url = f"http://127.0.0.1:{port}"
    venv_bin = str(Path(sys.executable).parent)
    return {
        **os.environ,
        # standalone starts its components as `airflow ...` commands found on PATH
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(home(settings)),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": str(conf.parallelism),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(conf.parallelism),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "BRANDLAKE_HOME": settings.home,
    }


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def status(settings: Settings) -> AirflowState:
    recorded = (
        json.loads(_state_file(settings).read_text()) if _state_file(settings).exists() else {}
    )
    pid, url = recorded.get("pid"), recorded.get("url", "")
    passwords = home(settings) / "simple_auth_manager_passwords.json.generated"
    if pid is None:
        return AirflowState("stopped", url, None, passwords)
    if not alive(pid, HINT):
        return AirflowState("stale pid", url, pid, passwords)
    return AirflowState("running" if _healthy(url) else "starting", url, pid, passwords)


def up(settings: Settings, log=print) -> AirflowState:
    """Start Airflow unless it runs; wait until its API answers (first start: a minute)."""
    current = status(settings)
    if current.status == "running":
        log(f"airflow: already running at {current.url} (pid {current.pid})")
        return current
    if current.pid and current.status != "stopped":
        terminate(current.pid)
    conf = settings.airflow
    port = conf.port or free_port()
    if conf.port and not port_free("127.0.0.1", port):
        raise ServiceError(
            f"cannot start Airflow: 127.0.0.1:{port} is in use; set airflow.port (0: a free one)"
        )
    home(settings).mkdir(parents=True, exist_ok=True)
    logfile = home(settings) / "standalone.log"
    env = environment(settings, port)
    with open(logfile, "ab") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("airflow")), "standalone"],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    url = env["AIRFLOW__API__BASE_URL"]
    _state_file(settings).write_text(json.dumps({"pid": process.pid, "url": url}))
    deadline = time.monotonic() + conf.start_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(
                f"airflow standalone exited with code {process.returncode}; last lines of "
                f"{logfile}:\n{tail(logfile)}"
            )
        if _healthy(url):
            state = status(settings)
            log(f"airflow: running at {url} (pid {process.pid}, log {logfile}); user admin, "
                f"password in {state.passwords}")  # fmt: skip
            return state
        time.sleep(1)
    terminate(process.pid)
    raise ServiceError(
        f"Airflow did not answer at {url} within {conf.start_timeout_s:g}s; last lines of "
        f"{logfile}:\n{tail(logfile)}"
    )


def down(settings: Settings, log=print) -> None:
    """Stop the Airflow this run directory started (its whole process group)."""
    current = status(settings)
    if current.pid and current.status != "stale pid":
        terminate(current.pid, grace_s=20)
        _wait_for_group(current.pid, grace_s=20)
        log(f"airflow: stopped (pid {current.pid})")
    _state_file(settings).unlink(missing_ok=True)


def _wait_for_group(pgid: int, grace_s: float) -> None:
    """Until every process of the group has exited (the API server outlives its parent by a
    few seconds), then SIGKILL whatever is left."""
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def api_token(state: AirflowState) -> str:
    """A JWT for the REST API, as the admin user."""
    password = json.loads(state.passwords.read_text())["admin"]
    request = urllib.request.Request(
        f"{state.url}/auth/token",
        data=json.dumps({"username": "admin", "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["access_token"]


def api_get(state: AirflowState, path: str) -> dict:
    request = urllib.request.Request(
        f"{state.url}/api/v2/{path}", headers={"Authorization": f"Bearer {api_token(state)}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())
