"""Registered model weights on an executor: fetched from the registry's artifact store once per
executor and version, into the executor's own scratch folder.

The driver resolves `models:/<name>@champion` to a version and its artifact URI; on a cluster
the file the driver downloaded is on another machine, so each executor fetches the artefact
itself (from S3, a shared file system, or MLflow's artifact server) and keeps it for the tasks
that follow.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from functools import partial
from pathlib import Path

from udfs.environment import offline_models


def executor_cache() -> Path:
    """This executor's scratch folder for the application (under Spark's local dirs), or the
    temporary folder outside Spark."""
    from pyspark import SparkFiles

    try:
        root = SparkFiles.getRootDirectory()
    except Exception:  # no Spark here (a test, a notebook without a session)
        root = tempfile.gettempdir()
    return Path(root) / "brandlake-models"


def exports_cache() -> Path:
    """Where this machine keeps exported models (`udfs/detection/backends.py`): beside Spark's
    first local dir, else in the temporary folder. Not per application: exports are keyed by
    the weights' content, so a restarted job reuses them instead of exporting again (10 s and
    more per model on 2 cores)."""
    local_dirs = os.environ.get("SPARK_LOCAL_DIRS", "")
    root = Path(local_dirs.split(",")[0] if local_dirs else tempfile.gettempdir())
    if root.name.startswith("blockmgr-"):
        # What a Python worker is given is the application's block manager folder, deleted
        # when the application ends: the folder that holds it outlives a restart.
        root = root.parent
    return root / "brandlake-exports"


def local_weights(name: str, version: str, source: str, tracking_uri: str = "") -> Path:
    """The `.pt` weights of version `version` of `name` on this executor, fetched from
    `source` (the version's artifact URI) the first time. Tasks racing to fetch it each
    download to a folder of their own; the first to finish wins, the others use its copy."""
    folder = executor_cache() / name / f"v{version}"
    found = sorted(folder.glob("*.pt"))
    if found:
        return found[0]
    offline_models()
    if tracking_uri:  # an `mlflow-artifacts:` source is served by the tracking server
        os.environ.setdefault("MLFLOW_TRACKING_URI", tracking_uri)
    import mlflow

    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".v{version}-"))
    try:
        mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=str(staging))
        weights = sorted(staging.rglob("*.pt"))
        if not weights:
            raise FileNotFoundError(f"{name} v{version} has no .pt weights at {source}")
        for path in weights:
            path.rename(staging / path.name)
        with contextlib.suppress(OSError):  # another task got there first: its copy stays
            os.rename(staging, folder)
            # to the executor's stderr (its log in the Spark UI and the worker's work folder)
            print(f"brandlake: {name} v{version} fetched from {source} into {folder}",
                  file=sys.stderr, flush=True)  # fmt: skip
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _fetch_exports(source)
    return sorted(folder.glob("*.pt"))[0]


def _fetch_exports(source: str) -> None:
    """The exports logged with the version (`exports/<key>/` beside `weights/`) into this
    machine's exports cache, where the detectors look before exporting. A version without
    any (registered before exports were logged, or none installed where it was trained)
    fetches nothing: the detectors export it themselves."""
    import mlflow

    from udfs.detection.backends import cached_export

    cache = exports_cache()
    uri = f"{source.rstrip('/').rsplit('/', 1)[0]}/exports"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache, prefix=".fetch-") as staging:
            mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=staging)
            for fetched in sorted(Path(staging).glob("exports/*/*")):  # exports/<key>/<export>
                key, name = fetched.parent.name, fetched.name
                cached_export(cache, key, name, partial(_move_into, fetched))
    except Exception as error:  # none logged (MLflow's own error, or an OSError), a full disk
        print(f"brandlake: no exports fetched from {uri} ({error})", file=sys.stderr, flush=True)


def _move_into(fetched: Path, folder: Path) -> None:
    shutil.move(str(fetched), str(folder / fetched.name))
