"""Shared fixtures: a private BRANDLAKE_HOME, the real embedded services on free ports, and Spark.

Every test that needs Kafka or Delta gets its own topics and lake (`isolated_settings`), so tests
share one broker, one Redis and one Spark session without seeing each other's data.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobs.common import environment
from jobs.common.config import Settings, load_settings
from jobs.entrypoint import command_settings
from tests.support import DEMO_VIDEO_SECONDS, isolated

environment.apply()  # before Spark, Ultralytics or MLflow import

SERVICE_ENV = {
    "BRANDLAKE_SERVICES__BROKER__PORT": "0",  # free ports, recorded in <run_dir>/services.json
    "BRANDLAKE_SERVICES__REDIS__PORT": "0",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that need the brand-detector champion (the shipped one) are marked `champion`;
    they run the analysis of whole broadcasts, and `make test-fast` leaves them out."""
    for item in items:
        if "brand_champion" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.champion)


@pytest.fixture(scope="session")
def brandlake_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("brandlake_home")
    saved = {k: os.environ.get(k) for k in [*SERVICE_ENV, "BRANDLAKE_HOME"]}
    os.environ.update({**SERVICE_ENV, "BRANDLAKE_HOME": str(home)})
    yield home
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def stack(brandlake_home: Path) -> Iterator[Settings]:
    """The embedded broker and Redis, started once for the session and stopped after it."""
    from infra.local import services
    from jobs.common.kafka import cached_producer, ensure_topics

    services.up(load_settings(), log=lambda message: None)
    settings = command_settings()
    ensure_topics(settings)
    yield settings
    # The producer `publish_json` keeps would retry the stopped broker until the process exits
    cached_producer.cache_clear()
    services.down(settings, log=lambda message: None)


@pytest.fixture
def isolated_settings(stack: Settings, tmp_path: Path) -> Callable[..., Settings]:
    """Settings with this test's own topics, lake and checkpoints; extra overrides as kwargs."""
    return lambda **overrides: isolated(stack, tmp_path, **overrides)


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A real S3 API server on loopback for the session (moto's server mode) with one bucket,
    `tests.support.S3_BUCKET`; the `lake.storage_options` that reach it."""
    from tests.support import s3_server

    with s3_server(tmp_path_factory.mktemp("s3") / "s3-server.log") as options:
        yield options


@pytest.fixture(scope="session")
def spark(stack: Settings):
    from jobs.common.spark import build_session

    session = build_session(stack, app_name="brandlake-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def brand_champion(stack: Settings):
    """The registry's brand-detector champion: the one shipped in models/brand-detector/,
    registered as the first version. Only when it does not fit the catalog (a changed
    catalog) is the quick profile trained (about 25 minutes on 2 CPU cores)."""
    from jobs.common.registry import NoChampionError, champion
    from jobs.train.brand_detector import train_brand_detector

    settings = load_settings()
    try:
        return champion(settings, settings.models.brand_detector.name)
    except NoChampionError:
        train_brand_detector(settings, "quick", device=None)
        return champion(settings, settings.models.brand_detector.name)


@pytest.fixture(scope="session")
def tiny_brand_detector(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A brand detector of the `tiny` profile (about a minute to train, finds little), in a
    registry of its own: for tests of the plumbing, which need *a* detector, not a good one.
    Returns the overrides that point a job at it."""
    from jobs.train.brand_detector import train_brand_detector

    folder = tmp_path_factory.mktemp("tiny_registry")
    overrides = {
        "models.tracking_uri": f"sqlite:///{folder / 'mlflow.db'}",
        "models.artifact_root": str(folder / "artifacts"),
    }
    train_brand_detector(load_settings(overrides), "tiny", device="cpu")
    return overrides


@pytest.fixture(scope="session")
def demo_lake(brand_champion, stack, spark, tmp_path_factory):
    """`brandlake demo` run once on a short broadcast: its settings, printed output and the
    sample's truth rows. A lake made by the real jobs; tests that change it copy it first."""
    import io
    from contextlib import redirect_stdout

    import pyarrow.parquet as pq

    from jobs.demo import run_demo

    settings = isolated(stack, tmp_path_factory.mktemp("demo"))
    printed = io.StringIO()
    with redirect_stdout(printed):
        video = run_demo(settings, video_seconds=DEMO_VIDEO_SECONDS, rate_per_s=200)
    truth = pq.read_table(video.with_name(video.name.replace(".mp4", ".truth.parquet")))
    return settings, printed.getvalue(), truth.to_pylist()
