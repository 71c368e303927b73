"""The JVM packages brandlake needs beyond pyspark's own jars, fetched once from Maven Central.

Three sets, each in its own folder under `spark.jars_dir` (default: inside the Python
environment, next to the pyspark it matches):

- `spark`: delta-spark and Spark's Kafka connector, every Spark session's `spark.jars`;
- `s3a`: hadoop-aws and its AWS SDK, added to sessions whose lake is on `s3://`;
- `broker`: Apache Kafka, the embedded broker (`services.broker.kafka_version`).

Versions are never written here: they follow the installed `pyspark` and `delta-spark` wheels
(pinned together in setup.py) and pyspark's Hadoop, so the jars always match the Python side.
`make install` runs `brandlake jars`, which resolves each set with Ivy (the resolver Spark's own
`--packages` uses; its jar ships in pyspark) into a shared download cache, and records what it
got; a second run, or a session start, fetches nothing and works offline. Jars that pyspark
already ships (Hadoop, Parquet, log4j, ...) are left out of the `spark` set: Spark loads its own
first anyway, and a second copy of another version only invites conflicts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from jobs.common import object_store
from jobs.common.config import Settings

SCALA = "2.13"  # pyspark 4 is built for Scala 2.13 only
MANIFEST = "brandlake-jars.json"


class JarsMissingError(RuntimeError):
    """A jar set was never fetched, or its files are gone; the message says what to run."""


@dataclass(frozen=True)
class JarSet:
    name: str
    coordinates: tuple[str, ...]  # organisation:module:revision


def spark_home() -> Path:
    """The Spark distribution (`bin/spark-submit`, `bin/spark-class`, `jars/`): `SPARK_HOME`
    where set (spark-submit sets it, and its driver imports pyspark from a zip inside it), else
    the pip pyspark's folder, which is one."""
    if os.environ.get("SPARK_HOME"):
        return Path(os.environ["SPARK_HOME"])
    import pyspark

    return Path(pyspark.__file__).parent


def pyspark_jars_dir() -> Path:
    return spark_home() / "jars"


def jar_sets(settings: Settings) -> list[JarSet]:
    """The sets this installation needs, with versions taken from the installed packages."""
    import pyspark

    spark = pyspark.__version__
    spark_minor = ".".join(spark.split(".")[:2])
    delta = metadata.version("delta-spark")
    sets = [
        JarSet(
            "spark",
            (
                f"io.delta:delta-spark_{spark_minor}_{SCALA}:{delta}",
                f"org.apache.spark:spark-sql-kafka-0-10_{SCALA}:{spark}",
            ),
        ),
        JarSet("s3a", (f"org.apache.hadoop:hadoop-aws:{_bundled_version('hadoop-client-api')}",)),
    ]
    kafka = settings.services.broker.kafka_version
    if settings.services.embedded and kafka:
        # log4j-slf4j-impl: the broker logs through slf4j 1.7, which has no binding otherwise
        log4j = _bundled_version("log4j-core")
        sets.append(
            JarSet(
                "broker",
                (
                    f"org.apache.kafka:kafka_{SCALA}:{kafka}",
                    f"org.apache.logging.log4j:log4j-slf4j-impl:{log4j}",
                ),
            )
        )
    return sets


def jars_dir(settings: Settings) -> Path:
    configured = settings.spark.jars_dir
    return Path(configured) if configured else Path(sys.prefix) / "share" / "brandlake-jars"


def classpath(settings: Settings, name: str) -> list[str]:
    """The jar files of set `name`, as recorded when they were fetched."""
    folder = jars_dir(settings) / name
    wanted = next((s for s in jar_sets(settings) if s.name == name), None)
    recorded = _read_manifest(folder)
    if wanted is None or recorded is None or recorded["coordinates"] != list(wanted.coordinates):
        needs = ", ".join(wanted.coordinates) if wanted else name
        raise JarsMissingError(
            f"the {name} jars ({needs}) are not in {folder}: run `make install` "
            "(or `brandlake jars`) once on a machine that reaches Maven Central"
        )
    files = [str(folder / jar) for jar in recorded["jars"]]
    missing = [f for f in files if not os.path.exists(f)]
    if missing:
        raise JarsMissingError(
            f"{len(missing)} {name} jars recorded in {folder} are gone (e.g. {missing[0]}): "
            "run `brandlake jars` again"
        )
    return files


def session_classpath(settings: Settings) -> list[str]:
    """A Spark session's jars: delta-spark and the Kafka connector, and hadoop-aws with its
    AWS SDK when the lake or its checkpoints are on S3."""
    jars = classpath(settings, "spark")
    if object_store.on_s3(settings.lake.root, settings.lake.checkpoint_root):
        jars += classpath(settings, "s3a")
    return jars


def fetch(settings: Settings, log: Callable[[str], None] = print) -> None:
    """Fetch every set that is not already complete; a complete one is left alone."""
    for jar_set in jar_sets(settings):
        folder = jars_dir(settings) / jar_set.name
        try:
            classpath(settings, jar_set.name)
            log(f"jars: {jar_set.name} up to date ({folder})")
            continue
        except JarsMissingError:
            pass
        log(f"jars: fetching {', '.join(jar_set.coordinates)} (first time: up to a minute)")
        jars = _resolve(jar_set, folder, _ivy_cache())
        if jar_set.name == "spark":
            jars = _without_bundled(folder, jars)
        _write_manifest(folder, jar_set, jars)
        size = sum((folder / jar).stat().st_size for jar in jars) / 1e6
        log(f"jars: {jar_set.name}: {len(jars)} jars, {size:.0f} MB in {folder}")


def _bundled_version(artifact: str) -> str:
    for jar in pyspark_jars_dir().glob(f"{artifact}-*.jar"):
        found = re.fullmatch(rf"{re.escape(artifact)}-(\d[\w.\-]*)\.jar", jar.name)
        if found:
            return found.group(1)
    raise JarsMissingError(f"pyspark ships no {artifact} jar in {pyspark_jars_dir()}")


def _ivy_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "brandlake" / "ivy"


def _resolve(jar_set: JarSet, folder: Path, cache: Path) -> list[str]:
    """Resolve the set with its dependencies into `folder` (links into the Ivy cache)."""
    ivy = next(pyspark_jars_dir().glob("ivy-*.jar"), None)
    if ivy is None:
        raise JarsMissingError(f"no Ivy jar in {pyspark_jars_dir()}: reinstall pyspark")
    java = shutil.which("java")
    if java is None:
        raise JarsMissingError("Java 17 is required (Spark and the embedded broker run on it)")
    dependencies = "\n".join(
        f'    <dependency org="{org}" name="{module}" rev="{rev}" conf="default->default"/>'
        for org, module, rev in (c.split(":") for c in jar_set.coordinates)
    )
    module = (
        '<ivy-module version="2.0">\n'
        f'  <info organisation="brandlake" module="{jar_set.name}"/>\n'
        f"  <dependencies>\n{dependencies}\n  </dependencies>\n</ivy-module>\n"
    )
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as work:
        spec = Path(work) / "ivy.xml"
        spec.write_text(module)
        command = [
            java, "-jar", str(ivy), "-ivy", str(spec), "-confs", "default",
            "-cache", str(cache), "-types", "jar", "bundle", "-symlink",
            "-retrieve", str(folder / "[organisation]_[artifact]-[revision](-[classifier]).[ext]"),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise JarsMissingError(
            f"could not fetch {', '.join(jar_set.coordinates)} from Maven Central:\n{tail}"
        )
    return sorted(p.name for p in folder.glob("*.jar"))


def _without_bundled(folder: Path, jars: list[str]) -> list[str]:
    bundled = {_artifact(p.name) for p in pyspark_jars_dir().glob("*.jar")}
    kept = []
    for jar in jars:
        if _artifact(jar.split("_", 1)[-1]) in bundled:
            (folder / jar).unlink()
        else:
            kept.append(jar)
    return kept


def _artifact(file_name: str) -> str:
    """`kafka-clients` from `kafka-clients-3.9.2.jar`."""
    found = re.match(r"(.+?)-\d[\w.\-]*\.jar$", file_name)
    return found.group(1) if found else file_name


def _read_manifest(folder: Path) -> dict | None:
    path = folder / MANIFEST
    return json.loads(path.read_text()) if path.exists() else None


def _write_manifest(folder: Path, jar_set: JarSet, jars: list[str]) -> None:
    manifest = {"coordinates": list(jar_set.coordinates), "jars": jars}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
