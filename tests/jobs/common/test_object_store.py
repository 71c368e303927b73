"""The lake on a real S3 API server on loopback: delta-rs commits with conditional writes,
pyarrow and Spark's s3a get the same endpoint and credentials, and a store that does not answer
fails at once with the setting to change."""

from __future__ import annotations

import uuid

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from jobs.common import object_store
from jobs.common.lake import write_lake_file
from jobs.common.object_store import StorageUnreachableError
from jobs.ingest.storage import segment_store
from tests.media import vtest_segment
from tests.support import S3_BUCKET
from udfs.decoding.frames import SegmentFrames


def fresh_prefix() -> str:
    return f"s3://{S3_BUCKET}/{uuid.uuid4().hex[:8]}"


def test_two_writers_committing_the_same_version_both_land(s3_endpoint):
    """Both commit version 1 from the same snapshot: the store refuses the second put of
    `00000000000000000001.json` (If-None-Match), so delta-rs retries it as version 2. A store
    that let it overwrite would lose the first writer's rows."""
    uri = f"{fresh_prefix()}/table"
    write_deltalake(uri, pa.table({"a": [0]}), storage_options=s3_endpoint)
    stale = [DeltaTable(uri, storage_options=s3_endpoint) for _ in range(2)]
    for number, delta in enumerate(stale, start=1):
        write_deltalake(delta, pa.table({"a": [number]}), mode="append")
    table = DeltaTable(uri, storage_options=s3_endpoint)
    assert table.version() == 2
    assert sorted(table.to_pyarrow_table()["a"].to_pylist()) == [0, 1, 2]


def test_segments_and_lake_files_go_to_the_store_and_decode_from_it(
    s3_endpoint, isolated_settings, tmp_path
):
    root = fresh_prefix()
    settings = isolated_settings(**{"lake.root": root, "lake.storage_options": s3_endpoint})
    uri = segment_store(settings).publish(vtest_segment(tmp_path), "arena-live")
    assert uri.startswith(f"{root}/landing/arena-live/")

    store, _ = object_store.filesystem(root, s3_endpoint)
    frames = list(SegmentFrames(uri, fps=2.0, filesystem=store))
    assert len(frames) == 4 and frames[0].image.shape == (720, 1280, 3)

    written = write_lake_file(settings, "yield/prebid.json", b"{}")
    store, path = object_store.filesystem(written, s3_endpoint)
    with store.open_input_stream(path) as stream:
        assert stream.read() == b"{}"


def test_spark_gets_the_same_endpoint_and_credentials(s3_endpoint):
    conf = object_store.hadoop_options(
        {k.lower(): v for k, v in s3_endpoint.items()}  # any case, as environment overrides give
    )
    assert conf["spark.hadoop.fs.s3a.endpoint"] == s3_endpoint["AWS_ENDPOINT_URL"]
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert conf["spark.hadoop.fs.s3a.access.key"] == s3_endpoint["AWS_ACCESS_KEY_ID"]
    assert conf["spark.hadoop.fs.s3a.secret.key"] == s3_endpoint["AWS_SECRET_ACCESS_KEY"]
    assert conf["spark.hadoop.fs.s3a.endpoint.region"] == "us-east-1"
    assert object_store.hadoop_options({}) == {}  # the default chain: environment, roles
    assert object_store.spark_path("s3://bucket/lake") == "s3a://bucket/lake"


def test_a_store_that_does_not_answer_names_the_setting(s3_endpoint, isolated_settings):
    from jobs.common.spark import build_session

    wrong_port = {**s3_endpoint, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    settings = isolated_settings(
        **{"lake.root": fresh_prefix(), "lake.storage_options": wrong_port}
    )
    with pytest.raises(StorageUnreachableError, match=r"lake.root .* cannot be reached") as error:
        build_session(settings)
    assert "lake.storage_options" in str(error.value)

    with pytest.raises(StorageUnreachableError, match=r"no bucket 'missing'.*lake.checkpoint_root"):
        object_store.check_reachable(
            "s3a://missing/checkpoints", s3_endpoint, "lake.checkpoint_root"
        )
