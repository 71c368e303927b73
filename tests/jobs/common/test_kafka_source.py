"""The Kafka Python Data Source against the real embedded broker."""

from __future__ import annotations

import json

import pytest
from confluent_kafka import Consumer, TopicPartition

from jobs.common.kafka import bootstrap_servers, true_end_offsets
from jobs.common.kafka_source import KafkaPartition, _apply_limit, read_partition
from jobs.common.spark import read_kafka_stream
from tests.support import produce


def test_true_end_offsets_see_past_the_broker_watermark(isolated_settings):
    settings = isolated_settings()
    produce(settings, "impressions", (b"x%d" % i for i in range(30_000)), partition=0)
    consumer = Consumer({"bootstrap.servers": bootstrap_servers(settings), "group.id": "t"})
    topic = settings.kafka.topics["impressions"].name
    _, watermark = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=5)
    bounds = true_end_offsets(consumer, [(topic, p) for p in range(4)], timeout_s=5)
    consumer.close()
    assert bounds[(topic, 0)] == (0, 30_000)
    assert bounds[(topic, 1)] == bounds[(topic, 2)] == bounds[(topic, 3)] == (0, 0)
    # The embedded broker under-reports; if it ever stops doing so this still holds.
    assert watermark <= 30_000


def test_read_partition_returns_exactly_the_offset_range(isolated_settings):
    settings = isolated_settings()
    produce(settings, "segments", (b"r%d" % i for i in range(5000)), partition=1)
    part = KafkaPartition(
        topic=settings.kafka.topics["segments"].name,
        partition=1,
        start=1234,
        end=4321,
        config=(("bootstrap.servers", bootstrap_servers(settings)),),
        poll_timeout_s=5,
    )
    batches = list(read_partition(part))
    offsets = [o for b in batches for o in b.column("offset").to_pylist()]
    values = [v for b in batches for v in b.column("value").to_pylist()]
    assert offsets == list(range(1234, 4321))
    assert values == [b"r%d" % i for i in range(1234, 4321)]


def test_read_partition_fails_clearly_when_records_are_missing(isolated_settings):
    settings = isolated_settings()
    produce(settings, "segments", [b"only"], partition=0)
    part = KafkaPartition(
        settings.kafka.topics["segments"].name,
        0,
        0,
        5,
        (("bootstrap.servers", bootstrap_servers(settings)),),
        poll_timeout_s=1,
    )
    with pytest.raises(TimeoutError, match=r"no records between offsets 1 and 5"):
        list(read_partition(part))


@pytest.mark.parametrize(
    ("max_rows", "expected"),
    [
        (None, {"t": {"0": 100, "1": 10}}),
        (1000, {"t": {"0": 100, "1": 10}}),
        (55, {"t": {"0": 50, "1": 5}}),
        (3, {"t": {"0": 3, "1": 0}}),
    ],
)
def test_apply_limit_shares_the_batch_by_backlog(max_rows, expected):
    begin = {"t": {"0": 0, "1": 0}}
    ends = {"t": {"0": 100, "1": 10}}
    result = _apply_limit(begin, ends, max_rows)
    assert result == expected
    if max_rows:
        assert sum(result["t"].values()) == min(max_rows, 110)


@pytest.mark.spark
def test_spark_stream_reads_every_record_once_in_limited_batches(isolated_settings, spark):
    settings = isolated_settings(kafka__max_offsets_per_trigger=1500)
    sent = produce(settings, "viewer_events", (json.dumps({"i": i}).encode() for i in range(5000)))
    stream = read_kafka_stream(spark, settings, ["viewer_events"])
    batches: list[int] = []
    seen: list[tuple[int, int]] = []

    def collect(df, batch_id):
        rows = df.select("partition", "offset", "value", "topic").collect()
        batches.append(len(rows))
        seen.extend((r.partition, r.offset) for r in rows)
        assert {r.topic for r in rows} <= {settings.kafka.topics["viewer_events"].name}

    query = (
        stream.writeStream.foreachBatch(collect)
        .option("checkpointLocation", settings.checkpoint_uri("read-test"))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination(120)
    assert query.exception() is None
    assert len(seen) == sent == len(set(seen))
    assert max(batches) <= 1500 and len(batches) >= 4


@pytest.mark.spark
def test_native_source_is_one_setting_away(isolated_settings, spark):
    """kafka.source=native hands the same options to Spark's own `kafka` source. Its jar is not
    installable here, so Spark says it cannot find it: proof the job asked for it."""
    settings = isolated_settings(kafka__source="native")
    with pytest.raises(Exception, match="Failed to find data source: kafka"):
        read_kafka_stream(spark, settings, ["impressions"])
