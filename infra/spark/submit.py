"""`brandlake submit JOB`: a streaming job through `spark-submit`, to the cluster of the
configuration (`spark.master`: `standalone` for `brandlake cluster up`'s, `spark://...`,
`k8s://...`).

    brandlake submit frame-analysis [--available-now] [--dry-run] [--set key=value ...]

The driver runs here (client mode) and executes the same job code as `brandlake run JOB`
(`jobs/spark_main.py` calls it). What the executors need travels with the job:
- brandlake itself as a wheel (`--py-files`; `make dist` builds it, and so does this command
  when the sources are newer): executors run this commit's code, never a stale copy;
- the JVM packages for the `kafka` and `delta` formats (and hadoop-aws for an `s3://` lake) as
  `--jars`, from `brandlake jars`;
- the Python dependencies: a packed environment (`spark.python_env_archive`, e.g. made with
  venv-pack) sent with `--archives` and used by every executor, or executors that have them
  at `spark.executor_python` (the image's Python on Kubernetes; this Python by default, right
  for a cluster on this machine);
- every `spark.options` entry (resources, GPUs) as `--conf`.
`--dry-run` prints the command instead of running it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from jobs.common.config import Settings
from jobs.common.jars import session_classpath, spark_home
from jobs.common.spark import check_master

REPOSITORY = Path(__file__).resolve().parents[2]
DIST = REPOSITORY / "dist"
PACKAGES = ("jobs", "udfs", "schemas", "infra", "dashboards")
ARCHIVE_NAME = "environment"  # the packed environment's folder on each executor


def wheel_path() -> Path:
    from importlib.metadata import version

    return DIST / f"brandlake-{version('brandlake')}-py3-none-any.whl"


def build_wheel(log=print) -> Path:
    """brandlake's wheel in `dist/`, rebuilt when a source file is newer than it."""
    wheel = wheel_path()
    newest = max(p.stat().st_mtime for package in PACKAGES
                 for p in (REPOSITORY / package).rglob("*.py"))  # fmt: skip
    if wheel.exists() and wheel.stat().st_mtime >= newest:
        return wheel
    log(f"submit: building {wheel.name} (the code the executors run)")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
         "--wheel-dir", str(DIST), str(REPOSITORY)],
        check=True,
    )  # fmt: skip
    if not wheel.exists():
        raise RuntimeError(f"pip built no {wheel.name} in {DIST}")
    return wheel


def command(settings: Settings, job: str, job_args: list[str], wheel: Path) -> list[str]:
    """The `spark-submit` command line for `job` (see the module docstring)."""
    spark = settings.spark
    if spark.master == "standalone":
        check_master(spark.master)  # raises: no cluster to resolve it to
    jars = session_classpath(settings)
    streaming_job = getattr(settings.jobs, job.replace("-", "_"), None)
    conf = {
        "spark.sql.shuffle.partitions": str(spark.shuffle_partitions),
        **spark.options,
        **(streaming_job.spark_options if streaming_job else {}),
    }
    archives = []
    if spark.python_env_archive:
        archives = ["--archives", f"{spark.python_env_archive}#{ARCHIVE_NAME}"]
        conf["spark.pyspark.python"] = f"./{ARCHIVE_NAME}/bin/python"
    else:
        conf["spark.pyspark.python"] = spark.executor_python or sys.executable
    conf["spark.pyspark.driver.python"] = sys.executable
    return [
        str(spark_home() / "bin" / "spark-submit"),
        "--master", spark.master,
        "--deploy-mode", "client",
        "--name", f"{spark.app_name}-{job}",
        "--jars", ",".join(jars),
        "--py-files", str(wheel),
        *archives,
        *[part for key, value in conf.items() for part in ("--conf", f"{key}={value}")],
        str(REPOSITORY / "jobs" / "spark_main.py"), job, *job_args,
    ]  # fmt: skip


def submit(settings: Settings, job: str, job_args: list[str], dry_run: bool, log=print) -> int:
    """Run (or with `dry_run`, print) `spark-submit` for `job`; its exit code."""
    wheel = wheel_path() if dry_run else build_wheel(log)
    line = command(settings, job, job_args, wheel)
    if dry_run:
        print(shlex.join(line))
        return 0
    log(f"submit: {job} to {settings.spark.master}")
    env = {**os.environ, "SPARK_HOME": str(spark_home()), "PYSPARK_DRIVER_PYTHON": sys.executable}
    return subprocess.run(line, env=env, check=False).returncode
