"""A Spark standalone cluster on this machine: a master and `standalone.workers` workers, each
its own JVM started from the pip `pyspark` distribution (`bin/spark-class`; nothing is
downloaded), bound to loopback on free ports, with logs and work folders under
`<run_dir>/cluster`.

    brandlake cluster up | down | status

Jobs run on it with `spark.master: standalone` (resolved to the master's URL by the entry
points) or `brandlake submit JOB --set spark.master=standalone`. Workers may offer GPUs
(`standalone.gpus_per_worker`), found by `standalone.gpu_discovery_script`: brandlake's
nvidia-smi script by default; the tests give a script that names GPUs a machine without one
does not have, so that Spark's GPU scheduling reaches the UDFs all the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infra.local.services import ServiceError, alive, free_port, tail, terminate
from jobs.common.config import Settings
from jobs.common.jars import spark_home

HOST = "127.0.0.1"
STANDALONE = "standalone"  # spark.master's value that means this cluster
REPOSITORY = Path(__file__).resolve().parents[2]
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


@dataclass(frozen=True)
class ClusterState:
    status: str  # running | stopped | degraded (the master or a worker is gone)
    master_url: str
    ui_url: str
    master_pid: int | None
    worker_pids: tuple[int, ...]
    alive_workers: int


def home(settings: Settings) -> Path:
    return Path(settings.run_dir) / "cluster"


def _state_file(settings: Settings) -> Path:
    return home(settings) / "brandlake.json"


def discovery_script(settings: Settings) -> Path:
    script = Path(settings.standalone.gpu_discovery_script)
    return script if script.is_absolute() else REPOSITORY / script


def _recorded(settings: Settings) -> dict:
    path = _state_file(settings)
    return json.loads(path.read_text()) if path.exists() else {}


def _alive_workers(ui_url: str) -> int | None:
    """Workers the master counts as ALIVE (None: the master does not answer)."""
    try:
        with urllib.request.urlopen(f"{ui_url}/json/", timeout=2) as response:
            found = json.loads(response.read())
    except (OSError, ValueError):
        return None
    return sum(1 for worker in found.get("workers", []) if worker.get("state") == "ALIVE")


def status(settings: Settings) -> ClusterState:
    recorded = _recorded(settings)
    master_pid = recorded.get("master_pid")
    workers = tuple(recorded.get("worker_pids", []))
    url, ui = recorded.get("master_url", ""), recorded.get("ui_url", "")
    if master_pid is None:
        return ClusterState("stopped", url, ui, None, workers, 0)
    running = alive(master_pid, MASTER_CLASS) and all(alive(p, WORKER_CLASS) for p in workers)
    count = _alive_workers(ui) or 0
    healthy = running and count == len(workers)
    return ClusterState("running" if healthy else "degraded", url, ui, master_pid, workers, count)


def master_url(settings: Settings) -> str:
    """The running cluster's `spark://` URL; a clear error when none runs."""
    state = status(settings)
    if state.status == "stopped":
        raise ServiceError(
            "spark.master is `standalone` but no standalone cluster runs for this run "
            f"directory ({home(settings)}): run `brandlake cluster up`, or set spark.master"
        )
    return state.master_url


def resolve_master(settings: Settings) -> Settings:
    """`settings` with `spark.master: standalone` replaced by the running cluster's URL, and
    executors sized to its workers (one per worker: its cores, its memory, its GPUs). Left as
    it is when no cluster runs: building a session then says to start one."""
    spark, conf = settings.spark, settings.standalone
    if spark.master != STANDALONE or status(settings).status == "stopped":
        return settings
    asking = {"spark.options": spark.options} | {
        f"jobs.{name}.spark_options": getattr(settings.jobs, name).spark_options
        for name in type(settings.jobs).model_fields
    }
    for where, options in asking.items():
        asked = float(options.get("spark.executor.resource.gpu.amount", 0))
        if asked > conf.gpus_per_worker:
            # Spark would wait for such executors for ever ("has not accepted any resources")
            raise ServiceError(
                f"{where} asks for {asked:g} GPU(s) per executor "
                f"(spark.executor.resource.gpu.amount) but the standalone cluster's workers "
                f"offer {conf.gpus_per_worker}: set standalone.gpus_per_worker (and its "
                "discovery script) and restart the cluster, or ask for fewer"
            )
    options = {
        "spark.executor.cores": str(conf.cores_per_worker),
        "spark.executor.memory": conf.memory_per_worker,
        "spark.driver.host": HOST,
    }
    if conf.gpus_per_worker:
        options["spark.executor.resource.gpu.amount"] = str(conf.gpus_per_worker)
        options["spark.executor.resource.gpu.discoveryScript"] = str(discovery_script(settings))
        options["spark.task.resource.gpu.amount"] = "1"  # a GPU per task unless options share it
    resolved = spark.model_copy(
        update={"master": master_url(settings), "options": {**options, **spark.options}}
    )
    return settings.model_copy(update={"spark": resolved})


def _environment(settings: Settings, name: str) -> dict[str, str]:
    conf = settings.standalone
    options = ["-Dspark.master.rest.enabled=false"]  # the REST server would take port 6066
    if name.startswith("worker") and conf.gpus_per_worker:
        options += [
            f"-Dspark.worker.resource.gpu.amount={conf.gpus_per_worker}",
            f"-Dspark.worker.resource.gpu.discoveryScript={discovery_script(settings)}",
        ]
    return {
        **os.environ,
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": HOST,
        "SPARK_LOG_DIR": str(home(settings) / "logs"),
        # executors' scratch space (shuffle files, downloaded models): one folder per worker
        "SPARK_LOCAL_DIRS": str(home(settings) / "local" / name),
        "SPARK_MASTER_OPTS" if name == "master" else "SPARK_WORKER_OPTS": " ".join(options),
    }


def _spawn(settings: Settings, name: str, arguments: list[str]) -> subprocess.Popen:
    (home(settings) / "logs").mkdir(parents=True, exist_ok=True)
    (home(settings) / "local" / name).mkdir(parents=True, exist_ok=True)
    logfile = home(settings) / "logs" / f"{name}.log"
    with open(logfile, "ab") as out:
        process = subprocess.Popen(
            [str(spark_home() / "bin" / "spark-class"), *arguments],
            env=_environment(settings, name), stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    return process


def up(settings: Settings, log: Callable[[str], None] = print) -> ClusterState:
    """Start the master and the workers unless they run; wait until every worker registered."""
    current = status(settings)
    if current.status == "running":
        log(f"cluster: already running at {current.master_url} (ui {current.ui_url})")
        return current
    down(settings, log=lambda _: None)
    conf = settings.standalone
    if conf.gpus_per_worker and not discovery_script(settings).is_file():
        raise ServiceError(
            f"standalone.gpus_per_worker is {conf.gpus_per_worker} but the GPU discovery script "
            f"{discovery_script(settings)} does not exist: set standalone.gpu_discovery_script"
        )
    port, ui_port = conf.master_port or free_port(HOST), free_port(HOST)
    url, ui = f"spark://{HOST}:{port}", f"http://{HOST}:{ui_port}"
    master = [MASTER_CLASS, "--host", HOST, "--port", str(port), "--webui-port", str(ui_port)]
    processes = [_spawn(settings, "master", master)]
    state = {"master_pid": processes[0].pid, "master_url": url, "ui_url": ui, "worker_pids": []}
    _state_file(settings).write_text(json.dumps(state))
    _wait(settings, lambda: _alive_workers(ui) is not None, "the master to answer", processes)
    for index in range(conf.workers):
        name = f"worker-{index + 1}"
        work = home(settings) / "work" / name
        work.mkdir(parents=True, exist_ok=True)
        processes.append(_spawn(settings, name, [
            WORKER_CLASS, "--host", HOST, "--cores", str(conf.cores_per_worker),
            "--memory", conf.memory_per_worker, "--webui-port", str(free_port(HOST)),
            "--work-dir", str(work), url]))  # fmt: skip
        state["worker_pids"].append(processes[-1].pid)
        _state_file(settings).write_text(json.dumps(state))
    _wait(settings, lambda: _alive_workers(ui) == conf.workers, f"{conf.workers} workers to "
          "register", processes)  # fmt: skip
    gpus = f", {conf.gpus_per_worker} GPU(s) each" if conf.gpus_per_worker else ""
    log(
        f"cluster: master {url} (ui {ui}), {conf.workers} workers of {conf.cores_per_worker} "
        f"core(s) and {conf.memory_per_worker}{gpus}; logs in {home(settings) / 'logs'}"
    )
    return status(settings)


def _wait(
    settings: Settings, ready: Callable[[], bool], what: str, processes: list[subprocess.Popen]
) -> None:
    timeout = settings.standalone.start_timeout_s
    deadline = time.monotonic() + timeout
    problem = f"waited {timeout:g}s for {what} (standalone.start_timeout_s)"
    while time.monotonic() < deadline:
        if ready():
            return
        exited = [p for p in processes if p.poll() is not None]
        if exited:
            problem = f"a process exited with code {exited[0].returncode} at start"
            break
        time.sleep(0.3)
    logs = home(settings) / "logs"
    found = "\n".join(f"--- {p.name}\n{tail(p, 10)}" for p in sorted(logs.glob("*.log")))
    for process in processes:  # by handle: one that has not exec'd yet has no command line
        terminate(process.pid)
    down(settings, log=lambda _: None)
    raise ServiceError(
        f"the standalone cluster did not start: {problem}; last lines of its logs:\n{found}"
    )


def stop_worker(settings: Settings, index: int, signal_number: int) -> int:
    """Send `signal_number` to worker `index` (from 0) and its executors; its pid."""
    pid = _recorded(settings)["worker_pids"][index]
    os.killpg(pid, signal_number)
    return pid


def down(settings: Settings, log: Callable[[str], None] = print) -> None:
    """Stop the workers (with their executors), then the master; a no-op when none runs."""
    recorded = _recorded(settings)
    for pid in recorded.get("worker_pids", []):
        if alive(pid, WORKER_CLASS):
            terminate(pid)
    if recorded.get("master_pid") and alive(recorded["master_pid"], MASTER_CLASS):
        terminate(recorded["master_pid"])
        log(f"cluster: stopped {recorded.get('master_url')}")
    _state_file(settings).unlink(missing_ok=True)
