"""The model registry: MLflow tracking and registered models with a `champion` alias.

By default MLflow keeps its tracking and registry in SQLite under the run directory and its
artifacts beside it (`models.tracking_uri` / `models.artifact_root` point elsewhere). Training
registers every run as a new version; the alias moves only when the new version beats the
current champion on the held-out set, so a worse retrain never reaches the streaming job, which
loads `models:/<name>@<alias>`.

A model can ship with the repository (`models/<name>/<name>.pt` and its `provenance.json`: how it
was trained, on what, with which figures). A registry where no version carries the alias gets
it as its first version, so nothing trains for half an hour on a fresh machine; it is skipped
when its classes are not the catalog's brands (a changed catalog needs a training).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from jobs.common.config import Settings, join_uri
from udfs.environment import offline_models

log = logging.getLogger("brandlake.registry")

SCORE_METRIC = "map50"  # the brand detector's score: held-out mAP at IoU 0.5
SCORE_TAG = "score"  # a version's score, whatever it measures (named by the `score_name` tag)
SHIPPED_ROOT = Path(__file__).resolve().parents[2] / "models"


class RegistryUnavailableError(RuntimeError):
    """The MLflow registry cannot be reached; the message names it and what to set."""


class NoChampionError(RuntimeError):
    """No version of the model carries the alias: nothing has been trained and promoted yet."""


@dataclass(frozen=True)
class ModelRef:
    """A registered model version and where its weights are on this machine (`weights`, when
    downloaded) and
    in the registry's artifact store (`source`, what an executor fetches them from:
    `udfs/artefacts.py`)."""

    name: str
    version: str
    alias: str | None
    weights: Path
    score: float | None
    source: str = ""
    tracking_uri: str = ""

    @property
    def label(self) -> str:
        """What every output row records as the model version."""
        return f"{self.name} v{self.version}"


@dataclass(frozen=True)
class Registration:
    run_id: str
    version: str
    score: float
    previous_champion: ModelRef | None
    promoted: bool


def tracking_uri(settings: Settings) -> str:
    return settings.models.tracking_uri or f"sqlite:///{Path(settings.run_dir, 'mlflow.db')}"


def artifact_root(settings: Settings) -> str:
    return settings.models.artifact_root or join_uri(settings.run_dir, "mlflow-artifacts")


def _client(settings: Settings):
    offline_models()
    import mlflow
    from mlflow import MlflowClient

    Path(settings.run_dir).mkdir(parents=True, exist_ok=True)
    uri = tracking_uri(settings)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(uri, uri)


def check_registry(settings: Settings, timeout_s: int = 10) -> None:
    """Raise RegistryUnavailableError unless the registry answers within about `timeout_s`
    (MLflow's own client retries a dead server for minutes)."""
    import os

    saved = {k: os.environ.get(k) for k in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES",
                                            "MLFLOW_HTTP_REQUEST_TIMEOUT")}  # fmt: skip
    os.environ.update(
        {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": str(timeout_s)}
    )
    try:
        _client(settings).search_registered_models(max_results=1)
    except Exception as err:  # MLflow, HTTP and database errors alike
        raise RegistryUnavailableError(
            f"the model registry at {tracking_uri(settings)} cannot be reached "
            f"({type(err).__name__}: {str(err).splitlines()[0][:200]}): start it, or point "
            "models.tracking_uri at one (empty: SQLite under the run directory)"
        ) from err
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _experiment_id(client, name: str, settings: Settings) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(name, artifact_location=join_uri(artifact_root(settings), name))


def register_weights(
    settings: Settings,
    name: str,
    weights: Path,
    score: float,
    params: dict[str, object],
    metrics: dict[str, float],
    tags: dict[str, str],
    promote: bool = True,
    export_size: int | None = None,
    score_name: str = SCORE_METRIC,
) -> Registration:
    """Log a training run with its weights, register it as a new version of `name`, and move
    the alias to it when `score` beats the current champion's (never when not `promote`: the
    training DAG's promotion gate decides, `jobs/train/promotion.py`). `export_size`: a YOLO
    detector's input size; its ONNX and OpenVINO exports at that size are logged with it
    (`exports/<key>/`), for executors to fetch instead of exporting. `score_name`: what the
    score measures (the run's metric of that name; the version's `score_name` tag)."""
    from mlflow.exceptions import MlflowException

    client = _client(settings)
    alias = settings.models.alias
    run = client.create_run(_experiment_id(client, name, settings), tags=tags)
    run_id = run.info.run_id
    for key, value in params.items():
        client.log_param(run_id, key, value)
    for key, value in {**metrics, score_name: score}.items():
        client.log_metric(run_id, key, value)
    client.log_artifact(run_id, str(weights), artifact_path="weights")
    if export_size is not None:
        _log_exports(client, run_id, weights, export_size)
    client.set_terminated(run_id)

    try:
        client.get_registered_model(name)
    except MlflowException:  # not registered yet
        client.create_registered_model(name, description="brandlake model, trained by brandlake")
    source = f"{run.info.artifact_uri}/weights"
    version_tags = {SCORE_TAG: score, "score_name": score_name}
    version = client.create_model_version(name, source, run_id=run_id, tags=version_tags)
    champion = _champion(client, settings, name, download=False)
    promoted = promote and (champion is None or champion.score is None or score > champion.score)
    if promoted:
        client.set_registered_model_alias(name, alias, version.version)
    log.info(
        "registered %s v%s (%s %.3f); %s",
        name,
        version.version,
        score_name,
        score,
        f"alias {alias} now points to it"
        if promoted
        else "not promoted here"
        if champion is None or champion.score is None
        else f"{alias} stays v{champion.version} ({score_name} {champion.score:.3f})",
    )
    return Registration(run_id, str(version.version), score, champion, promoted)


def _log_exports(client, run_id: str, weights: Path, image_size: int) -> None:
    import tempfile

    from udfs.detection.backends import registry_exports

    with tempfile.TemporaryDirectory(prefix="brandlake-exports-") as cache:
        for folder in registry_exports(weights, image_size, Path(cache)):
            client.log_artifacts(run_id, str(folder), artifact_path=f"exports/{folder.name}")
            log.info("logged the %s export with the run", folder.name)


def champion(settings: Settings, name: str, download: bool = True) -> ModelRef:
    """The version of `name` that carries the alias, its weights downloaded to this machine
    (not with `download=False`: a streaming job's executors fetch them themselves).

    When there is none, the model shipped in `models/<name>/` (if any, and if it fits the
    catalog) is registered as the champion first. Raises `NoChampionError` when there is still
    none, saying how to make one.
    """
    client = _client(settings)
    found = _champion(client, settings, name, download)
    if found is None and register_shipped(settings, name) is not None:
        found = _champion(client, settings, name, download)
    if found is None:
        raise NoChampionError(
            f"no version of {name} carries the alias {settings.models.alias!r} in the registry "
            f"at {tracking_uri(settings)}: train one with `brandlake train {name}`"
        )
    return found


def shipped(name: str, root: Path = SHIPPED_ROOT) -> tuple[Path, dict] | None:
    """The weights and provenance of the model shipped with the repository, if there is one."""
    weights, provenance = root / name / f"{name}.pt", root / name / "provenance.json"
    if not (weights.is_file() and provenance.is_file()):
        return None
    return weights, json.loads(provenance.read_text())


def register_shipped(
    settings: Settings, name: str, root: Path = SHIPPED_ROOT
) -> Registration | None:
    """Register the shipped model as a version of `name` (with its training figures and
    provenance as the run's metrics and tags); None when there is none that fits."""
    found = shipped(name, root)
    if found is None:
        return None
    weights, provenance = found
    classes = [b.brand_id for b in settings.catalog.brands]
    if provenance.get("classes") not in (None, classes):
        log.warning(
            "the shipped %s detects %s, the catalog has %s: not registering it (train one)",
            name,
            provenance["classes"],
            classes,
        )
        return None
    metrics = dict(provenance["metrics"])
    log.info("no %s champion: registering the one shipped in %s", name, weights.parent)
    dataset = provenance.get("dataset", {})
    return register_weights(
        settings,
        name,
        weights,
        score=metrics.pop(SCORE_METRIC),
        params=provenance.get("params", {}),
        metrics=metrics,
        tags={
            "source": "shipped",
            "dataset_fingerprint": str(dataset.get("fingerprint", "")),
            "code_commit": str(provenance.get("code_commit", "")),
            "training_command": str(provenance.get("command", "")),
        },
        export_size=settings.models.brand_detector.image_size
        if name == settings.models.brand_detector.name
        else None,
    )


def champion_version(settings: Settings, name: str) -> str | None:
    """The version the alias points to now (nothing downloaded); None when there is none."""
    found = _champion(_client(settings), settings, name, download=False)
    return found.version if found else None


def version_weights(settings: Settings, name: str, version: str) -> Path:
    """The weights of version `version` of `name`, downloaded to this machine."""
    return _download(_client(settings).get_model_version(name, version), name)


def record_evaluation(
    settings: Settings, name: str, version: str, metrics: dict[str, float], tags: dict[str, str]
) -> None:
    """Log `metrics` on the version's training run and set `tags` on the version."""
    client = _client(settings)
    run_id = client.get_model_version(name, version).run_id
    for key, value in metrics.items():
        client.log_metric(run_id, key, value)
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)


def promote(settings: Settings, name: str, version: str) -> None:
    """Move the alias to `version`."""
    _client(settings).set_registered_model_alias(name, settings.models.alias, version)
    log.info("%s: alias %s now points to v%s", name, settings.models.alias, version)


def _download(version, name: str) -> Path:
    import mlflow

    folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=version.source))
    # a detector's .pt among the files its run logged; other models log one file of their own
    files = [folder]
    if folder.is_dir():
        files = sorted(folder.glob("*.pt")) or sorted(folder.glob("*"))
    if not files:
        raise FileNotFoundError(f"{name} v{version.version} has no weights in {folder}")
    return files[0]


def _champion(client, settings: Settings, name: str, download: bool) -> ModelRef | None:
    from mlflow.exceptions import MlflowException

    alias = settings.models.alias
    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException:  # no such model or alias
        return None
    # versions registered before the `score` tag carried it under the detector's metric name
    score = version.tags.get(SCORE_TAG, version.tags.get(SCORE_METRIC))
    weights = _download(version, name) if download else Path()
    return ModelRef(name, str(version.version), alias, weights, float(score) if score else None,
                    version.source, tracking_uri(settings))  # fmt: skip
