"""The Kafka Python Data Source against the real embedded broker."""

from __future__ import annotations

import itertools
import json

import pytest
from confluent_kafka import Consumer
from pyspark.sql.streaming.datasource import ReadAllAvailable

from jobs.common.kafka import bootstrap_servers, watermarks
from jobs.common.kafka_source import KafkaPartition, _apply_limit, read_partition, split_ranges
from jobs.common.spark import read_kafka_stream
from tests.support import produce


def test_watermarks_are_each_partitions_first_and_next_offset(isolated_settings):
    settings = isolated_settings()
    produce(settings, "impressions", (b"x%d" % i for i in range(30_000)), partition=0)
    for flush in range(3):  # small batches, as frame_analysis produces them
        produce(settings, "impressions", (b"y%d" % i for i in range(4 + flush)), partition=2)
    consumer = Consumer({"bootstrap.servers": bootstrap_servers(settings), "group.id": "t"})
    topic = settings.kafka.topics["impressions"].name
    bounds = watermarks(consumer, [(topic, p) for p in range(4)], timeout_s=5)
    consumer.close()
    assert bounds[(topic, 0)] == (0, 30_000)
    assert bounds[(topic, 2)] == (0, 15)
    assert bounds[(topic, 1)] == bounds[(topic, 3)] == (0, 0)


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
@pytest.mark.parametrize(
    ("ranges", "min_partitions", "expected"),
    [
        # one busy partition: cut into equal offset ranges
        ([("s", 0, 10, 20)], 3, [("s", 0, 10, 13), ("s", 0, 13, 16), ("s", 0, 16, 20)]),
        # proportional to backlog; a single record cannot be cut
        ([("s", 0, 0, 9), ("s", 1, 5, 6)], 4,
         [("s", 0, 0, 2), ("s", 0, 2, 4), ("s", 0, 4, 6), ("s", 0, 6, 9), ("s", 1, 5, 6)]),
        # enough partitions already, or nothing asked
        ([("s", 0, 0, 9), ("s", 1, 0, 9)], 2, [("s", 0, 0, 9), ("s", 1, 0, 9)]),
        ([("s", 0, 0, 9)], 0, [("s", 0, 0, 9)]),
        ([("s", 0, 4, 5)], 8, [("s", 0, 4, 5)]),
    ],
)  # fmt: skip
def test_split_ranges_reaches_min_partitions_without_losing_an_offset(
    ranges, min_partitions, expected
):
    pieces = split_ranges(ranges, min_partitions)
    assert pieces == expected
    for topic, partition, begin, end in ranges:
        mine = [(b, e) for t, p, b, e in pieces if (t, p) == (topic, partition)]
        assert mine[0][0] == begin and mine[-1][1] == end
        assert all(a[1] == b[0] for a, b in itertools.pairwise(mine))


def test_spark_stream_reads_every_record_once_in_limited_batches(isolated_settings, spark):
    settings = isolated_settings(kafka__max_offsets_per_trigger=1500)
    sent = produce(settings, "viewer_events", (json.dumps({"i": i}).encode() for i in range(5000)))
    stream = read_kafka_stream(spark, settings, ["viewer_events"], min_partitions=7)
    batches: list[int] = []
    tasks: list[int] = []
    seen: list[tuple[int, int]] = []

    def collect(df, batch_id):
        rows = df.select("partition", "offset", "value", "topic").collect()
        batches.append(len(rows))
        tasks.append(df.rdd.getNumPartitions())
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
    assert min(tasks) >= 7  # four Kafka partitions, split by offset range


def _reader(settings, **options):
    from jobs.common.kafka_source import KafkaStreamReader

    return KafkaStreamReader(
        {
            "kafka.bootstrap.servers": bootstrap_servers(settings),
            "subscribe": settings.kafka.topics["segments"].name,
            "kafkaConsumer.pollTimeoutMs": "5000",
            **options,
        }
    )


def test_json_starting_offsets_pick_offsets_earliest_and_latest(isolated_settings):
    settings = isolated_settings()
    topic = settings.kafka.topics["segments"].name
    for p in (0, 1):
        produce(settings, "segments", (b"s%d" % i for i in range(10)), partition=p)
    reader = _reader(settings, startingOffsets=json.dumps({topic: {"0": 4, "1": -1}}))
    try:
        assert reader.initialOffset() == {topic: {"0": 4, "1": 10}}
        assert _reader(settings, startingOffsets="latest").initialOffset() == {
            topic: {"0": 10, "1": 10}
        }
    finally:
        reader.stop()


def test_a_checkpoint_past_the_log_is_data_loss(isolated_settings, caplog):
    """A recreated topic: the checkpoint's offset is past the partition's end."""
    from jobs.common.kafka_source import DataLossError

    settings = isolated_settings()
    topic = settings.kafka.topics["segments"].name
    produce(settings, "segments", (b"s%d" % i for i in range(5)), partition=0)
    checkpoint = {topic: {"0": 25, "1": 0}}
    strict = _reader(settings)
    with pytest.raises(DataLossError, match=rf"{topic} partition 0: the checkpoint is at 25"):
        strict.latestOffset(checkpoint, ReadAllAvailable())
    strict.stop()
    lenient = _reader(settings, failOnDataLoss="false")
    with caplog.at_level("WARNING", logger="brandlake.kafka_source"):
        end = lenient.latestOffset(checkpoint, ReadAllAvailable())
    lenient.stop()
    assert end == {topic: {"0": 5, "1": 0}}
    assert lenient.partitions({topic: {"0": 0, "1": 0}}, end)[0].start == 0
    assert f"data loss: {topic} partition 0" in caplog.text and "resuming at 0" in caplog.text
