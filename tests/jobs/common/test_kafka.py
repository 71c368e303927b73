"""Kafka on the real embedded broker: watermarks, and Spark's Kafka source reading a topic."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer

from jobs.common.kafka import bootstrap_servers, flush, watermarks
from jobs.common.spark import read_kafka_stream
from tests.support import produce


def test_watermarks_are_each_partitions_first_and_next_offset(isolated_settings):
    settings = isolated_settings()
    produce(settings, "impressions", (b"x%d" % i for i in range(30_000)), partition=0)
    for batch in range(3):  # small batches, as frame_analysis produces them
        produce(settings, "impressions", (b"y%d" % i for i in range(4 + batch)), partition=2)
    consumer = Consumer({"bootstrap.servers": bootstrap_servers(settings), "group.id": "t"})
    topic = settings.kafka.topics["impressions"].name
    bounds = watermarks(consumer, [(topic, p) for p in range(4)], timeout_s=5)
    consumer.close()
    assert bounds[(topic, 0)] == (0, 30_000)
    assert bounds[(topic, 2)] == (0, 15)
    assert bounds[(topic, 1)] == bounds[(topic, 3)] == (0, 0)


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
    assert min(tasks) >= 7  # four Kafka partitions, split by offset range (minPartitions)


class LeaderMoving:
    """A consumer whose partition answers "not leader" twice, as one does for a moment after
    it is created; then its watermarks (a real broker rarely shows it on demand)."""

    def __init__(self, code: int) -> None:
        self.code, self.calls = code, 0

    def get_watermark_offsets(self, partition, timeout, cached):
        self.calls += 1
        if self.calls <= 2:
            raise KafkaException(KafkaError(self.code))
        return (0, 7)


def test_a_moving_leader_is_asked_again_other_errors_fail_at_once():
    consumer = LeaderMoving(KafkaError.NOT_LEADER_FOR_PARTITION)
    assert watermarks(consumer, [("t", 0)], timeout_s=5) == {("t", 0): (0, 7)}
    assert consumer.calls == 3
    failing = LeaderMoving(KafkaError._TIMED_OUT)
    with pytest.raises(KafkaException):
        watermarks(failing, [("t", 0)], timeout_s=5)
    assert failing.calls == 1


def test_a_ctrl_c_during_a_flush_with_delivery_callbacks_stays_a_keyboard_interrupt():
    """Unpatched, about one Ctrl-C in five that lands as a delivery callback runs came out of
    `Producer.flush` as a SystemError (ingest exited 1, not 130, under load)."""
    nowhere = Producer({"bootstrap.servers": "127.0.0.1:9", "message.timeout.ms": 100})
    raised = Counter()
    for attempt in range(10):
        nowhere.produce("t", b"x", on_delivery=lambda err, msg: None)
        delay = 0.08 + attempt * 0.008  # around the moment the delivery times out
        threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT)).start()
        try:
            flush(nowhere, 1)
            time.sleep(0.3)  # the signal is still to come
        except BaseException as stopped:  # what flush raised is the point
            raised[type(stopped).__name__] += 1
            time.sleep(0.2)
    assert raised == {"KeyboardInterrupt": 10}
