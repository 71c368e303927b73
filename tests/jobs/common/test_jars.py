"""The JVM packages: versions that follow the installed wheels, fetched once, clear when missing."""

from __future__ import annotations

from importlib import metadata

import pyspark
import pytest

from jobs.common import jars
from jobs.common.config import load_settings


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))
    return load_settings()


def test_jar_versions_follow_the_installed_wheels(settings):
    sets = {s.name: s.coordinates for s in jars.jar_sets(settings)}
    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    delta = metadata.version("delta-spark")
    assert f"io.delta:delta-spark_{spark_minor}_2.13:{delta}" in sets["spark"]
    assert f"org.apache.spark:spark-sql-kafka-0-10_2.13:{pyspark.__version__}" in sets["spark"]
    hadoop = next(jars.pyspark_jars_dir().glob("hadoop-client-api-*.jar")).name
    assert sets["s3a"] == (
        f"org.apache.hadoop:hadoop-aws:{hadoop[len('hadoop-client-api-') : -4]}",
    )
    kafka = settings.services.broker.kafka_version
    assert f"org.apache.kafka:kafka_2.13:{kafka}" in sets["broker"]


def test_a_second_fetch_resolves_nothing(settings, monkeypatch):
    """`make install` fetched the jars: fetching again only reads the manifests (offline)."""

    def no_network(*args):
        raise AssertionError("resolved again")

    monkeypatch.setattr(jars, "_resolve", no_network)
    messages: list[str] = []
    jars.fetch(settings, log=messages.append)
    assert [m.split()[2] for m in messages] == ["up", "up", "up"]  # "jars: NAME up to date"
    assert any(path.endswith(".jar") for path in jars.classpath(settings, "spark"))


def test_missing_jars_say_what_to_run(settings):
    elsewhere = settings.model_copy(
        update={"spark": settings.spark.model_copy(update={"jars_dir": str(settings.home)})}
    )
    with pytest.raises(jars.JarsMissingError, match=r"delta-spark.*run `make install`"):
        jars.classpath(elsewhere, "spark")
