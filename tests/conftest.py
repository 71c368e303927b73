"""Shared fixtures: a private BRANDLAKE_HOME, the real embedded services on free ports, and Spark.

Every test that needs Kafka or Delta gets its own topics and lake (`isolated_settings`), so tests
share one broker, one Redis and one Spark session without seeing each other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobs.common import environment
from jobs.common.config import Settings, load_settings
from jobs.entrypoint import command_settings

environment.apply()  # before Spark, Ultralytics or MLflow import

SERVICE_ENV = {
    "BRANDLAKE_SERVICES__BROKER__PORT": "0",  # free ports, recorded in <run_dir>/services.json
    "BRANDLAKE_SERVICES__REDIS__PORT": "0",
}


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
    from jobs.common.kafka import ensure_topics

    services.up(load_settings(), log=lambda message: None)
    settings = command_settings()
    ensure_topics(settings)
    yield settings
    services.down(settings, log=lambda message: None)


@pytest.fixture
def isolated_settings(stack: Settings, tmp_path: Path) -> Callable[..., Settings]:
    """Settings with this test's own topics, lake and checkpoints; extra overrides as kwargs."""
    from jobs.common.kafka import ensure_topics

    def make(**overrides: object) -> Settings:
        suffix = uuid.uuid4().hex[:8]
        values: dict[str, object] = {
            "lake.root": str(tmp_path / "lake"),
            "lake.checkpoint_root": str(tmp_path / "checkpoints"),
        }
        for key in stack.kafka.topics:
            values[f"kafka.topics.{key}.name"] = f"{key}-{suffix}"
        values.update({k.replace("__", "."): v for k, v in overrides.items()})
        settings = command_settings(values)
        ensure_topics(settings)
        return settings

    return make


@pytest.fixture(scope="session")
def spark(stack: Settings):
    from jobs.common.spark import build_session

    session = build_session(stack, app_name="brandlake-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def brand_champion(stack: Settings):
    """The registry's brand-detector champion; trains the quick profile (about 25 minutes on
    2 CPU cores) when there is none. Set BRANDLAKE_MODELS__TRACKING_URI to a registry with a
    champion to skip training while iterating."""
    from jobs.common.registry import NoChampionError, champion
    from jobs.train.brand_detector import train_brand_detector

    settings = load_settings()
    try:
        return champion(settings, settings.models.brand_detector.name)
    except NoChampionError:
        train_brand_detector(settings, "quick", device=None)
        return champion(settings, settings.models.brand_detector.name)
