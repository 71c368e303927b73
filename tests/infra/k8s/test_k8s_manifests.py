"""The Kubernetes manifests and the image, checked statically (no cluster, no Docker here).

Built-in kinds are validated against Kubernetes' own schemas (the `kubernetes-validate`
package, strict: an unknown field fails), the operators' kinds against the JSON Schemas kept in
infra/k8s/schemas/, the pod templates inside SparkApplications as Kubernetes PodTemplates. The
overlays are rendered with `kubectl kustomize` where kubectl is installed. Then what must agree
with the rest of brandlake does: topics and partitions with conf/cluster.yaml, one ingest per
catalog stream, paths in the image with the configuration.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from jobs.cli import JOBS
from jobs.common.config import load_settings

REPOSITORY = Path(__file__).resolve().parents[3]
K8S = REPOSITORY / "infra/k8s"
IMAGE = REPOSITORY / "infra/images"
KUBERNETES_VERSION = "1.33.0"
OPERATOR_GROUPS = {"sparkoperator.k8s.io", "kafka.strimzi.io", "keda.sh"}  # schemas in the repo
CLUSTER_ENV = {"AWS_REGION": "eu-west-1", "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
               "REDIS_URL": "redis://redis:6379/0", "SPARK_MASTER": "k8s://https://k8s:443",
               "MLFLOW_TRACKING_URI": "http://mlflow:5000"}  # fmt: skip


def base_resources() -> list[dict]:
    """Every resource the base lists, read from its files (no kustomize needed)."""
    kustomization = yaml.safe_load((K8S / "base/kustomization.yaml").read_text())
    return [
        doc
        for name in kustomization["resources"]
        for doc in yaml.safe_load_all((K8S / "base" / name).read_text())
        if doc
    ]


def render(overlay: str) -> list[dict]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the overlays are rendered where it is")
    done = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def crd_schema(resource: dict) -> dict | None:
    group, _, version = resource["apiVersion"].rpartition("/")
    if group not in OPERATOR_GROUPS:
        return None  # built in: v1, apps, rbac.authorization.k8s.io, ...
    path = K8S / "schemas" / f"{resource['kind'].lower()}-{group}-{version}.json"
    assert path.exists(), f"no schema for {resource['kind']} {resource['apiVersion']}: {path}"
    return json.loads(path.read_text())


def validate(resource: dict) -> None:
    """Raise when `resource` does not match its kind's schema."""
    schema = crd_schema(resource)
    if schema is None:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
        return
    jsonschema.validate(resource, schema)
    for role in ("driver", "executor"):
        template = resource["spec"].get(role, {}).get("template")
        if template is not None:
            pod_template = {"apiVersion": "v1", "kind": "PodTemplate",
                            "metadata": {"name": role}, "template": template}  # fmt: skip
            kubernetes_validate.validate(pod_template, KUBERNETES_VERSION, strict=True)


def by_kind(resources: list[dict], kind: str) -> dict[str, dict]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def cluster_settings(monkeypatch):
    for name, value in CLUSTER_ENV.items():
        monkeypatch.setenv(name, value)
    return load_settings(env="cluster")


@pytest.mark.parametrize(
    "resource", base_resources(), ids=lambda r: f"{r['kind']}/{r['metadata']['name']}"
)
def test_every_base_resource_matches_its_schema(resource):
    validate(resource)


@pytest.mark.parametrize("overlay", ["gpu", "cpu"])
def test_each_overlay_renders_into_valid_resources_in_one_namespace(overlay):
    resources = render(overlay)
    for resource in resources:
        validate(resource)
        if resource["kind"] != "Namespace":
            assert resource["metadata"]["namespace"] == "brandlake", resource["metadata"]
    assert set(by_kind(resources, "SparkApplication")) == {"bronze-ingest", "frame-analysis",
                                                           "exposure-revenue",
                                                           "privacy-rendition"}  # fmt: skip


def test_the_validation_catches_a_typo():
    application = by_kind(base_resources(), "SparkApplication")["frame-analysis"]
    typo = json.loads(json.dumps(application))
    typo["spec"]["executor"]["instance"] = typo["spec"]["executor"].pop("instances")
    with pytest.raises(jsonschema.ValidationError):
        validate(typo)
    redis = by_kind(base_resources(), "Deployment")["redis"]
    typo = json.loads(json.dumps(redis))
    typo["spec"]["template"]["spec"]["containers"][0]["port"] = 6379
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(typo)


def test_only_frame_analysis_runs_on_gpus(monkeypatch):
    gpu = by_kind(render("gpu"), "SparkApplication")
    template = gpu["frame-analysis"]["spec"]["executor"]["template"]["spec"]
    assert template["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in (
        template["tolerations"]
    )
    assert all("template" not in gpu[name]["spec"]["executor"]
               for name in ("bronze-ingest", "exposure-revenue", "privacy-rendition"))  # fmt: skip
    # the GPU request itself is the job's Spark settings (Spark turns it into the pod's limit)
    settings = cluster_settings(monkeypatch)
    options = settings.jobs.frame_analysis.spark_options
    assert options["spark.executor.resource.gpu.vendor"] == "nvidia.com"
    assert not settings.jobs.bronze_ingest.spark_options
    assert not settings.jobs.exposure_revenue.spark_options

    # the cpu overlay empties those settings for frame_analysis' driver
    cpu = by_kind(render("cpu"), "SparkApplication")["frame-analysis"]["spec"]
    env = {e["name"]: e["value"] for e in cpu["driver"]["env"]}
    monkeypatch.setenv(*next(iter(env.items())))
    assert load_settings(env="cluster").jobs.frame_analysis.spark_options == {}
    assert "template" not in cpu["executor"]


def test_topics_and_partitions_are_the_cluster_configuration(monkeypatch):
    settings = cluster_settings(monkeypatch)
    topics = by_kind(base_resources(), "KafkaTopic").values()
    declared = {t["spec"]["topicName"]: t["spec"]["partitions"] for t in topics}
    assert declared == {t.name: t.partitions for t in settings.kafka.topics.values()}
    bootstrap = by_kind(base_resources(), "Kafka")["brandlake"]
    config = by_kind(base_resources(), "ConfigMap")["brandlake-env"]["data"]
    assert config["KAFKA_BOOTSTRAP_SERVERS"].startswith(f"{bootstrap['metadata']['name']}-kafka")


def test_every_variable_the_cluster_configuration_needs_is_in_the_config_map():
    needed = set(re.findall(r"\$\{(\w+)\}", (REPOSITORY / "conf/cluster.yaml").read_text()))
    config = by_kind(base_resources(), "ConfigMap")["brandlake-env"]["data"]
    assert needed <= set(config), needed - set(config)
    assert config["BRANDLAKE_ENV"] == "cluster"


def test_one_ingest_per_catalog_stream_each_scaled_by_keda():
    streams = {s["stream_id"] for s in load_settings().catalog.model_dump()["streams"]}
    resources = base_resources()
    deployments = {n for n in by_kind(resources, "Deployment") if n.startswith("ingest-")}
    assert deployments == {f"ingest-{s}" for s in streams}
    scaled = by_kind(resources, "ScaledObject")
    assert {s["spec"]["scaleTargetRef"]["name"] for s in scaled.values()} == deployments
    for name in deployments:
        args = by_kind(resources, "Deployment")[name]["spec"]["template"]["spec"]["containers"][0]
        assert args["args"][:2] == ["--stream-id", name.removeprefix("ingest-")]


def test_spark_applications_run_the_jobs_in_the_image(monkeypatch):
    settings = cluster_settings(monkeypatch)
    for name, application in by_kind(base_resources(), "SparkApplication").items():
        spec = application["spec"]
        assert spec["arguments"][0] == name and name in JOBS
        assert spec["mainApplicationFile"] == "local:///opt/brandlake/jobs/spark_main.py"
        assert spec["sparkConf"]["spark.pyspark.python"] == settings.spark.executor_python
        assert spec["driver"]["serviceAccount"] in by_kind(base_resources(), "ServiceAccount")
        import pyspark

        assert spec["sparkVersion"] == pyspark.__version__


def test_the_image_holds_what_the_configuration_names(monkeypatch):
    dockerfile = (IMAGE / "Dockerfile").read_text()
    settings = cluster_settings(monkeypatch)
    script = settings.jobs.frame_analysis.spark_options[
        "spark.executor.resource.gpu.discoveryScript"
    ]
    assert script.startswith("/opt/brandlake/")
    assert (REPOSITORY / script.removeprefix("/opt/brandlake/")).exists()
    assert settings.spark.executor_python == "/opt/brandlake/venv/bin/python"
    assert "WORKDIR /opt/brandlake" in dockerfile and "python -m venv venv" in dockerfile
    for source in re.findall(r"^COPY (?!--from)(\S+)", dockerfile, re.MULTILINE):
        if source != "wheels/":  # the torch wheels, put there before a build
            assert (REPOSITORY / source).exists(), source
    setup = (REPOSITORY / "setup.py").read_text()
    for pin in re.findall(r"(torch(?:vision)?==[\d.]+)", dockerfile):
        assert f'"{pin}"' in setup, f"{pin}: setup.py pins another version"


def test_the_entrypoint_starts_executors_the_way_spark_asks(tmp_path):
    """Spark on Kubernetes runs `<entrypoint> executor` with the executor's settings in the
    environment; a `java` on PATH that prints its arguments stands in for the JVM."""
    entrypoint = IMAGE / "entrypoint.sh"
    assert os.access(entrypoint, os.X_OK)
    (tmp_path / "java").write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    (tmp_path / "java").chmod(0o755)
    env = {
        "PATH": f"{tmp_path}:{os.environ['PATH']}", "SPARK_HOME": "/opt/spark",
        "SPARK_JAVA_OPT_1": "-Dspark.b=2", "SPARK_JAVA_OPT_0": "-Dspark.a=1",
        "SPARK_EXECUTOR_MEMORY": "4g", "SPARK_DRIVER_URL": "spark://driver:7078",
        "SPARK_EXECUTOR_ID": "3", "SPARK_EXECUTOR_CORES": "2", "SPARK_APPLICATION_ID": "app-1",
        "SPARK_EXECUTOR_POD_IP": "10.0.0.7", "SPARK_RESOURCE_PROFILE_ID": "0",
        "SPARK_EXECUTOR_POD_NAME": "frame-analysis-exec-3",
    }  # fmt: skip
    done = subprocess.run([str(entrypoint), "executor"], env=env, capture_output=True,
                          text=True, check=True)  # fmt: skip
    args = done.stdout.splitlines()
    assert args[:4] == ["-Dspark.a=1", "-Dspark.b=2", "-Xms4g", "-Xmx4g"]
    assert "org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend" in args
    flags = dict(
        zip(
            args[args.index("--driver-url") :: 2],
            args[args.index("--driver-url") + 1 :: 2],
            strict=True,
        )
    )
    assert flags == {"--driver-url": "spark://driver:7078", "--executor-id": "3",
                     "--cores": "2", "--app-id": "app-1", "--hostname": "10.0.0.7",
                     "--resourceProfileId": "0", "--podName": "frame-analysis-exec-3"}  # fmt: skip
    other = subprocess.run([str(entrypoint), "echo", "ingest"], capture_output=True, text=True)
    assert other.stdout == "ingest\n"  # anything else runs as given
