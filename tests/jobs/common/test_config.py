"""The configuration loader: layering, overrides, and errors that name key, value and origin."""

from __future__ import annotations

import os
import shutil

import pytest

from jobs.common.config import ConfigError, conf_dir, load_settings, parse_overrides


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith("BRANDLAKE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))


def test_local_is_the_default_and_resolves_paths_under_home(tmp_path):
    settings = load_settings()
    assert settings.env == "local"
    assert settings.services.embedded is True
    assert settings.kafka.bootstrap_servers == "embedded"
    assert settings.lake.root == str(tmp_path / ".brandlake" / "lake")
    assert (
        settings.table_uri("bronze.impressions") == f"{tmp_path}/.brandlake/lake/bronze/impressions"
    )
    assert {s.stream_id for s in settings.catalog.streams} >= {"arena-live"}


def test_environment_variables_override_files(monkeypatch):
    monkeypatch.setenv("BRANDLAKE_KAFKA__MAX_OFFSETS_PER_TRIGGER", "1234")
    monkeypatch.setenv("BRANDLAKE_KAFKA__TOPICS__IMPRESSIONS__PARTITIONS", "9")
    settings = load_settings()
    assert settings.kafka.max_offsets_per_trigger == 1234
    assert settings.kafka.topics["impressions"].partitions == 9
    assert settings.kafka.topics["impressions"].name == "impressions"


def test_explicit_overrides_win_over_environment(monkeypatch):
    monkeypatch.setenv("BRANDLAKE_DELTA__WRITER", "spark")
    settings = load_settings(parse_overrides(["delta.writer=delta-rs", "redis.url=redis://r:1"]))
    assert settings.delta.writer == "delta-rs"
    assert settings.redis.url == "redis://r:1"


def test_bad_value_names_key_value_and_origin(monkeypatch):
    monkeypatch.setenv("BRANDLAKE_KAFKA__MAX_OFFSETS_PER_TRIGGER", "lots")
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert "kafka.max_offsets_per_trigger = 'lots'" in message
    assert "BRANDLAKE_KAFKA__MAX_OFFSETS_PER_TRIGGER" in message
    assert "valid integer" in message


def test_unknown_key_is_an_error_not_ignored():
    with pytest.raises(
        ConfigError, match=r"kafka\.topcs = 3 \(from override kafka\.topcs\): unknown key"
    ):
        load_settings({"kafka.topcs": 3})


def test_choice_errors_list_the_allowed_values():
    with pytest.raises(ConfigError, match=r"delta\.writer = 'parquet' .*'delta-rs' or 'spark'"):
        load_settings({"delta.writer": "parquet"})


def test_cluster_needs_its_environment_variables(monkeypatch):
    with pytest.raises(ConfigError, match="needs the environment variable"):
        load_settings(env="cluster")
    for name, value in {
        "AWS_REGION": "eu-west-1",
        "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092,kafka-2:9092",
        "REDIS_URL": "redis://redis:6379/0",
        "SPARK_MASTER": "spark://master:7077",
        "MLFLOW_TRACKING_URI": "http://mlflow:5000",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(env="cluster")
    assert settings.delta.writer == "delta-rs"  # one writer per table, S3 conditional commits
    # GPU executors for frame_analysis only: the other jobs run no models
    assert not any("resource.gpu" in key for key in settings.spark.options)
    assert not settings.jobs.bronze_ingest.spark_options
    gpu = settings.jobs.frame_analysis.spark_options
    assert gpu["spark.executor.resource.gpu.vendor"] == "nvidia.com"
    assert gpu["spark.executor.resource.gpu.discoveryScript"].endswith("getGpusResources.sh")
    assert settings.jobs.frame_analysis.sample_fps == 2.0  # the rest of the job's settings stay
    assert settings.kafka.bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert settings.table_uri("bronze.quarantine") == "s3://brandlake-lake/prod/bronze/quarantine"


def test_unknown_environment_names_the_missing_file():
    with pytest.raises(ConfigError, match=r"staging\.yaml not found"):
        load_settings(env="staging")


def test_malformed_set_option():
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_overrides(["delta.writer"])


def test_starting_offsets_must_be_a_keyword_or_json():
    assert load_settings({"kafka.starting_offsets": '{"impressions": {"0": 5}}'})
    with pytest.raises(ConfigError, match=r"kafka\.starting_offsets = 'beginning'"):
        load_settings({"kafka.starting_offsets": "beginning"})


def test_a_key_given_twice_is_an_error_with_its_line(monkeypatch, tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(conf_dir(), conf)
    text = (conf / "local.yaml").read_text()
    (conf / "local.yaml").write_text(
        text + "\nredis:\n  url: embedded\n  url: redis://other:6379\n"
    )
    monkeypatch.setenv("BRANDLAKE_CONF_DIR", str(conf))
    lines = len((conf / "local.yaml").read_text().splitlines())
    with pytest.raises(ConfigError, match=rf"local\.yaml is not valid YAML: .*'url' is given twice"
                       rf"(.|\n)*line {lines}"):  # fmt: skip
        load_settings()


def test_a_missing_catalog_is_a_configuration_error(monkeypatch, tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(conf_dir(), conf)
    (conf / "catalog.yaml").unlink()
    monkeypatch.setenv("BRANDLAKE_CONF_DIR", str(conf))
    with pytest.raises(ConfigError, match=r"brand catalog .*catalog\.yaml not found"):
        load_settings()


def test_secret_values_are_never_printed_in_errors():
    with pytest.raises(ConfigError) as err:
        load_settings({"lake.storage_options": {"aws_secret_access_key": ["hunter2-secret"]}})
    message = str(err.value)
    assert "lake.storage_options.aws_secret_access_key = <redacted>" in message
    assert "hunter2" not in message


def test_a_secret_that_needs_a_missing_variable_is_not_printed(monkeypatch):
    monkeypatch.delenv("NO_SUCH_VARIABLE", raising=False)
    with pytest.raises(ConfigError) as err:
        load_settings({"kafka.client": {"sasl.password": "pw-${NO_SUCH_VARIABLE}"}})
    assert "<redacted>" in str(err.value) and "pw-" not in str(err.value)


def test_scene_prompt_must_name_the_label():
    with pytest.raises(ConfigError, match=r"models\.scene\.prompt = 'a frame'"):
        load_settings({"models.scene.prompt": "a frame"})


@pytest.mark.parametrize("key", ["keyframes_only", "monkey_count", "brand_id"])
def test_ordinary_keys_do_not_look_secret(key):
    from jobs.common.config import looks_secret

    assert not looks_secret(f"jobs.{key}")
