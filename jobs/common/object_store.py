"""The lake's storage (a local folder or an S3 bucket), reached the same way by every reader.

`lake.storage_options` is the one place a deployment says how to reach an object store, in
delta-rs's keys (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
`AWS_ALLOW_HTTP`, any case). delta-rs takes them as they are; here they become a pyarrow
filesystem (segments, the Parquet files executors write, checkpoint listings) and Spark's
`fs.s3a.*` settings (checkpoints, Spark's reads of the tables). With no options each library
finds its own way: environment variables, the instance's or pod's role.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote, urlparse

import pyarrow.fs as pafs

# pyarrow's name for each setting -> the keys delta-rs (object_store) accepts for it
_KEYS = {
    "endpoint": ("aws_endpoint_url", "aws_endpoint", "endpoint_url", "endpoint"),
    "access_key": ("aws_access_key_id", "access_key_id"),
    "secret_key": ("aws_secret_access_key", "secret_access_key"),
    "session_token": ("aws_session_token", "session_token", "token"),
    "region": ("aws_region", "aws_default_region", "region"),
}
S3_SCHEMES = ("s3", "s3a")

StorageOptions = Mapping[str, str] | None  # `lake.storage_options`; None: the defaults


class StorageUnreachableError(RuntimeError):
    """The lake's object store does not answer; the message names the settings to check."""


def on_s3(*uris: str) -> bool:
    """Whether any of `uris` is on S3 (`s3://`, or `s3a://` as Spark names it)."""
    return any(urlparse(uri).scheme in S3_SCHEMES for uri in uris)


def spark_path(uri: str) -> str:
    """`uri` as Spark's Hadoop filesystems name it (`s3://` is `s3a://` there)."""
    return uri.replace("s3://", "s3a://", 1) if uri.startswith("s3://") else uri


def s3_settings(options: StorageOptions) -> dict[str, str]:
    """The S3 settings among `options`, by pyarrow's names (endpoint, access_key, ...)."""
    lowered = {key.lower(): value for key, value in (options or {}).items() if value}
    found = {}
    for name, keys in _KEYS.items():
        for key in keys:
            if key in lowered:
                found[name] = lowered[key]
                break
    return found


def filesystem(
    uri: str, options: StorageOptions = None, **s3_tuning: object
) -> tuple[pafs.FileSystem, str]:
    """The filesystem holding `uri` (a local path, `file://`, `s3://` or `s3a://`) and the path
    of `uri` on it; `s3_tuning`: more `S3FileSystem` arguments (timeouts, retries)."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return pafs.LocalFileSystem(), unquote(parsed.path) if parsed.scheme else uri
    s3 = s3_settings(options)
    if parsed.scheme not in S3_SCHEMES or not (s3 or s3_tuning):
        return pafs.FileSystem.from_uri(uri.replace("s3a://", "s3://", 1))
    endpoint = s3.pop("endpoint", None)
    if endpoint:
        s3["endpoint_override"] = endpoint
        s3["scheme"] = urlparse(endpoint).scheme or "https"
    return pafs.S3FileSystem(**s3, **s3_tuning), parsed.netloc + parsed.path


def hadoop_options(options: StorageOptions) -> dict[str, str]:
    """Spark settings that give its s3a filesystem the same endpoint and credentials."""
    s3 = s3_settings(options)
    conf = {}
    if "endpoint" in s3:
        conf["spark.hadoop.fs.s3a.endpoint"] = s3["endpoint"]
        # S3-compatible servers (MinIO, Ceph, a test server) want bucket/key paths, not
        # bucket.host names
        conf["spark.hadoop.fs.s3a.path.style.access"] = "true"
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(
            s3["endpoint"].startswith("https")
        ).lower()
    if "region" in s3:
        conf["spark.hadoop.fs.s3a.endpoint.region"] = s3["region"]
    if "access_key" in s3 and "secret_key" in s3:
        conf["spark.hadoop.fs.s3a.access.key"] = s3["access_key"]
        conf["spark.hadoop.fs.s3a.secret.key"] = s3["secret_key"]
        provider = "SimpleAWSCredentialsProvider"
        if "session_token" in s3:
            conf["spark.hadoop.fs.s3a.session.token"] = s3["session_token"]
            provider = "TemporaryAWSCredentialsProvider"
        conf["spark.hadoop.fs.s3a.aws.credentials.provider"] = (
            f"org.apache.hadoop.fs.s3a.{provider}"
        )
    return conf


def check_reachable(uri: str, options: StorageOptions, setting: str) -> None:
    """Raise a clear error when the object store holding `uri` does not answer or refuses the
    credentials (the libraries would retry for minutes, then fail deep inside a batch);
    `setting` names the configuration key that holds `uri`."""
    if not on_s3(uri):
        return
    store, path = filesystem(
        uri, options, connect_timeout=5, request_timeout=10,
        retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=1),
    )  # fmt: skip
    bucket = path.split("/", 1)[0]
    endpoint = s3_settings(options).get("endpoint", "the default AWS endpoint")
    try:
        found = store.get_file_info(bucket).type != pafs.FileType.NotFound
    except OSError as error:
        raise StorageUnreachableError(
            f"{setting} {uri} cannot be reached at {endpoint}: {error}. Check the endpoint and "
            "credentials in lake.storage_options (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...)"
        ) from None
    if not found:
        raise StorageUnreachableError(
            f"{setting} {uri}: there is no bucket {bucket!r} at {endpoint}; create it, or set "
            f"{setting} to one that exists"
        )
