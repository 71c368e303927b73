"""Monitoring: infra/monitoring's Prometheus config, alert rules and Grafana dashboard checked
statically (structure, every PromQL expression parsed, every metric name one brandlake
exports), and the metrics of running processes scraped: they are there and they move."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import promql_parser
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from jobs.common import metrics
from jobs.common.config import load_settings
from tests.support import job_env, produce

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "infra" / "monitoring"
SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def exported_names() -> set[str]:
    """The metric names jobs/common/metrics.py defines (counters without `_total`)."""
    found = {"up"}  # Prometheus' own, per target
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            found.update(family.name for family in value.describe())
    return found


def metric_names(expr: str) -> set[str]:
    """The series names an expression selects (label values and strings left out)."""
    bare = re.sub(r'"[^"]*"', '""', expr)
    bare = re.sub(r"\{[^}]*\}", "", bare)
    names = set(re.findall(r"\b(brandlake_[a-z_]+|up)\b", bare))
    return {next((n[: -len(s)] for s in SUFFIXES if n.endswith(s)), n) for n in names}


def check_promql(expr: str, where: str) -> None:
    # Grafana's template variables stand for regexes here
    concrete = expr.replace("$job", ".*")
    try:
        promql_parser.parse(concrete)
    except Exception as error:  # the parser raises its own types
        raise AssertionError(f"{where}: {expr!r} does not parse: {error}") from error
    unknown = metric_names(concrete) - exported_names()
    assert not unknown, f"{where}: metrics brandlake does not export: {sorted(unknown)}"


def test_the_prometheus_config_scrapes_the_processes_discovery_files():
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    assert [MONITORING / f for f in config["rule_files"]] == [MONITORING / "alerts.yml"]
    local = next(c for c in config["scrape_configs"] if c["job_name"] == "brandlake")
    (pattern,) = local["file_sd_configs"][0]["files"]
    # relative to the config file: the default run_dir's metrics folder
    run_dir = Path(load_settings().run_dir)
    expected = metrics.discovery_file(load_settings(), "x").parent.relative_to(run_dir.parent)
    assert (MONITORING / pattern).resolve().parent == (ROOT / ".brandlake" / expected).resolve()
    k8s = next(c for c in config["scrape_configs"] if c["job_name"] == "brandlake-k8s")
    assert k8s["kubernetes_sd_configs"][0]["role"] == "pod"


def test_alert_rules_parse_and_cover_lag_quarantine_and_stalled_jobs():
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"][0]["rules"]
    for rule in rules:
        assert {"alert", "expr", "for", "labels", "annotations"} <= set(rule), rule
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]
        check_promql(rule["expr"], rule["alert"])
    by_name = {r["alert"]: r["expr"] for r in rules}
    assert "> 3" in by_name["BrandlakeAnalysisBehind"]
    assert "> 0.01" in by_name["BrandlakeQuarantineRate"]
    assert "> 120" in by_name["BrandlakeJobNotCommitting"]


def test_the_grafana_dashboard_is_well_formed_and_queries_brandlakes_metrics():
    dashboard = json.loads((MONITORING / "grafana" / "brandlake-pipeline.json").read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        assert panel["datasource"]["type"] == "prometheus"
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs))
        for target in panel["targets"]:
            check_promql(target["expr"], panel["title"])
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "job"} <= variables


@pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool is not installed (a Go build of Prometheus); the structure and every PromQL "
    "expression are checked above with promql-parser",
)
def test_promtool_accepts_the_config_and_the_rules():
    subprocess.run(["promtool", "check", "config", str(MONITORING / "prometheus.yml")], check=True)
    subprocess.run(["promtool", "check", "rules", str(MONITORING / "alerts.yml")], check=True)


# -- running processes ---------------------------------------------------------------------


def scrape_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    """Every sample of a metrics endpoint: (name, sorted labels) -> value."""
    text = scrape_text(f"http://127.0.0.1:{port}/metrics")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    wanted = tuple(sorted(labels.items()))
    return samples.get((name, wanted), 0.0)


@pytest.mark.services
def test_ingest_serves_metrics_that_move_and_withdraws_its_discovery_entry(
    isolated_settings, tmp_path
):
    from tests.media import shared_video

    settings = isolated_settings()
    args = ["ingest", "file", str(shared_video()), "--stream-id", "metered", "--realtime", "--loop"]
    entry = metrics.discovery_file(settings, "ingest-metered")
    entry.unlink(missing_ok=True)
    with open(tmp_path / "ingest.log", "wb") as log:
        running = subprocess.Popen(
            [sys.executable, "-m", "jobs.cli", *args], env=job_env(None, settings),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not entry.exists():
            assert running.poll() is None, (tmp_path / "ingest.log").read_text()
            assert time.monotonic() < deadline, "no discovery entry in 60 s"
            time.sleep(0.2)
        (target,) = json.loads(entry.read_text())[0]["targets"]
        host, port = target.split(":")
        assert host == "127.0.0.1"
        first = scrape(int(port))
        while value(first, "brandlake_segments_announced_total", stream="metered") < 1:
            assert time.monotonic() < deadline, "no segment announced in 60 s"
            time.sleep(0.5)
            first = scrape(int(port))
        later = first
        while value(later, "brandlake_segments_announced_total", stream="metered") <= value(
            first, "brandlake_segments_announced_total", stream="metered"
        ):
            assert time.monotonic() < deadline + 30, "the count did not move"
            time.sleep(0.5)
            later = scrape(int(port))
        assert value(later, "brandlake_ffmpeg_starts_total", stream="metered") == 1
        assert value(later, "brandlake_ingest_free_bytes", stream="metered") > 0
    finally:
        os.killpg(running.pid, signal.SIGINT)
        running.wait(30)
    assert not entry.exists()  # withdrawn on the way out


@pytest.mark.spark
@pytest.mark.services
def test_a_streaming_jobs_batches_rows_and_lag_are_exported(isolated_settings, spark):
    from jobs import bronze_ingest
    from jobs.simulate import TOPICS, simulator

    settings = isolated_settings()
    records = list(itertools.islice(simulator(settings, seed=5, bad_ratio=0.05), 3000))

    def feed(part: list) -> None:
        for key in TOPICS:
            produce(settings, key, [r.value for r in part if r.topic == key])

    feed(records[:1500])
    bronze_ingest.run(settings, available_now=True)
    port = metrics.serve(settings, "bronze_ingest")  # the endpoint the run started
    before = scrape(port)
    job = {"job": settings.jobs.bronze_ingest.query_name}
    assert value(before, "brandlake_batch_seconds_count", **job) >= 1
    assert value(before, "brandlake_rows_written_total", **job, table="bronze.impressions") > 0
    assert value(before, "brandlake_rows_written_total", **job, table="bronze.quarantine") > 0
    assert value(before, "brandlake_last_batch_timestamp_seconds", **job) > time.time() - 300
    topic = settings.kafka.topics["impressions"].name
    assert (("brandlake_input_lag_records", tuple(sorted({**job, "topic": topic}.items())))
            in before)  # fmt: skip

    feed(records[1500:])
    bronze_ingest.run(settings, available_now=True)
    after = scrape(port)
    for table in ("bronze.impressions", "bronze.auctions"):
        assert value(after, "brandlake_rows_written_total", **job, table=table) > value(
            before, "brandlake_rows_written_total", **job, table=table
        )
    assert value(after, "brandlake_input_lag_records", **job, topic=topic) == 0  # caught up


SPARK_WITH_SERVLET = """
import json, sys
from pyspark.sql import SparkSession

builder = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "true")
           .config("spark.ui.port", sys.argv[1]).config("spark.driver.bindAddress", "127.0.0.1"))
for key, value in json.loads(sys.argv[2]).items():
    builder = builder.config(key, value)
spark = builder.getOrCreate()
spark.range(100000).selectExpr("sum(id)").collect()
print("ready", flush=True)
sys.stdin.read()  # until the test closes it
spark.stop()
"""


def test_the_cluster_profile_serves_sparks_own_metrics_where_prometheus_looks(tmp_path):
    """conf/cluster.yaml's Spark options make a driver serve Spark's metrics on its UI at the
    paths the scrape config's Kubernetes jobs ask for, at the port the drivers' annotation
    names."""
    from infra.local.services import free_port

    options = yaml.safe_load((ROOT / "conf" / "cluster.yaml").read_text())["spark"]["options"]
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    paths = {job["job_name"]: job.get("metrics_path") for job in config["scrape_configs"]}
    assert paths["spark-driver-k8s"] == "/metrics/prometheus"
    assert paths["spark-executors-k8s"] == "/metrics/executors/prometheus"
    manifests = list(yaml.safe_load_all((ROOT / "infra/k8s/base/spark-applications.yaml").open()))
    assert all(m["spec"]["driver"]["annotations"]["brandlake.io/spark-ui-port"] == "4040"
               for m in manifests)  # fmt: skip
    port = free_port()
    command = [sys.executable, "-c", SPARK_WITH_SERVLET, str(port), json.dumps(options)]
    with open(tmp_path / "spark.log", "wb") as log:
        driver = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
            env=job_env(None, load_settings()),
        )  # fmt: skip
    try:
        assert driver.stdout.readline().strip() == b"ready", (tmp_path / "spark.log").read_text()
        served = {
            path: scrape_text(f"http://127.0.0.1:{port}{path}")
            for path in (paths["spark-driver-k8s"], paths["spark-executors-k8s"])
        }
    finally:
        driver.stdin.close()
        driver.wait(60)
    driver_lines = served["/metrics/prometheus"].splitlines()
    assert any(line.startswith("metrics_brandlake_driver_") for line in driver_lines)
    assert "metrics_executor_" in served["/metrics/executors/prometheus"]
