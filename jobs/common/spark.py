"""The Spark session every job uses, built from `conf/` in one place."""

from __future__ import annotations

import socket
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from jobs.common import object_store
from jobs.common.config import Settings
from jobs.common.jars import session_classpath
from jobs.common.kafka import bootstrap_servers, topic_names


def build_session(
    settings: Settings, app_name: str | None = None, job_options: dict[str, str] | None = None
) -> SparkSession:
    """A session for `settings` with delta-spark and the Kafka connector (local jars, fetched
    by `brandlake jars`; hadoop-aws too for an `s3://` lake); local mode binds to loopback and
    has no UI. `job_options`: a job's own Spark settings, over `spark.options`. Raises a clear
    error when the master or the lake's object store does not answer."""
    check_master(settings.spark.master)
    lake = settings.lake
    object_store.check_reachable(lake.root, lake.storage_options, "lake.root")
    object_store.check_reachable(lake.checkpoint_root, lake.storage_options, "lake.checkpoint_root")
    builder = (
        SparkSession.builder.master(settings.spark.master)
        .appName(app_name or settings.spark.app_name)
        .config("spark.sql.shuffle.partitions", str(settings.spark.shuffle_partitions))
        .config("spark.jars", ",".join(session_classpath(settings)))
        # Databases `register_tables` creates (bronze, silver, gold) get folders here, not in
        # the current directory; the tables themselves stay where the lake has them.
        .config("spark.sql.warehouse.dir", str(Path(settings.run_dir) / "spark-warehouse"))
    )
    if settings.spark.master.startswith("local"):
        builder = builder.config("spark.ui.enabled", "false").config(
            "spark.driver.bindAddress", "127.0.0.1"
        )
    # The lake's endpoint and credentials for Spark's s3a (checkpoints, reads of the tables);
    # set here, not on spark-submit's command line, where every process listing would show them
    if object_store.on_s3(lake.root, lake.checkpoint_root):
        for key, value in object_store.hadoop_options(lake.storage_options).items():
            builder = builder.config(key, value)
    for key, value in {**settings.spark.options, **(job_options or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    # Each job logs every batch's duration and where it went; Spark would also warn for every
    # batch longer than the trigger interval, which a live job keeps short on purpose.
    jvm = spark.sparkContext._jvm
    jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(
        "org.apache.spark.sql.execution.streaming.runtime.ProcessingTimeExecutor",
        jvm.org.apache.logging.log4j.Level.ERROR,
    )
    return spark


def check_master(master: str, timeout_s: float = 5.0) -> None:
    """Raise a clear error when the master is `standalone` with no cluster to resolve it to,
    or a `spark://` master does not answer (Spark itself retries for a minute, then fails with
    a stack trace that does not name the setting)."""
    if master == "standalone":
        raise RuntimeError(
            "spark.master is `standalone` but no standalone cluster runs for this run "
            "directory: start one with `brandlake cluster up`, or set spark.master "
            "(local[*], spark://host:port, k8s://...)"
        )
    if not master.startswith("spark://"):
        return
    for address in master.removeprefix("spark://").split(","):  # several with standby masters
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=timeout_s):
                return
        except (OSError, ValueError):
            continue
    raise RuntimeError(
        f"the Spark master at {master} cannot be reached: start it (`brandlake cluster up` for "
        "one on this machine) or set spark.master"
    )


def read_kafka_stream(
    spark: SparkSession, settings: Settings, topics: list[str], min_partitions: int = 0
) -> DataFrame:
    """A stream of `topics` (keys of `kafka.topics`) with the native Kafka source's columns,
    in at least `min_partitions` tasks per batch where there are records enough."""
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap_servers(settings))
        .option("subscribe", ",".join(topic_names(settings, topics)))
        .option("startingOffsets", settings.kafka.starting_offsets)
        .option("kafkaConsumer.pollTimeoutMs", str(int(settings.kafka.poll_timeout_s * 1000)))
    )
    if min_partitions:
        reader = reader.option("minPartitions", str(min_partitions))
    if settings.kafka.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(settings.kafka.max_offsets_per_trigger))
    for key, value in settings.kafka.client.items():
        reader = reader.option(f"kafka.{key}", value)
    for key, value in settings.kafka.source_options.items():
        reader = reader.option(key, value)
    return reader.load()
