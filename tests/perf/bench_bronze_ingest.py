"""Kafka -> bronze Delta throughput: bronze_ingest with each Delta writer, and plain Python
consumers.

    make bench                       (BENCH_EVENTS=200000 make bench for a quicker run)

All runs read the same topics from the same embedded broker in one process, so the ratios hold
even on a noisy machine. Baselines: a plain confluent-kafka consumer that only reads; one that
does bronze's work (decode, validate, Arrow, one Delta commit per 250k records); a kafka-python
consumer that only reads. bronze_ingest (Spark's Kafka source) runs with each Delta writer
(executors' Parquet committed with delta-rs, the default; delta-spark), each twice: cold and
with its Python workers warm.
"""

from __future__ import annotations

import itertools
import json
import os
import time

import pyarrow as pa
from confluent_kafka import Consumer, TopicPartition
from deltalake import write_deltalake

from jobs import bronze_ingest
from jobs.common.kafka import bootstrap_servers, watermarks
from jobs.simulate import simulator
from schemas.events import EVENT_SCHEMAS
from schemas.tables import BRONZE_TABLES
from tests.support import produce, read_table

EVENTS = int(os.environ.get("BENCH_EVENTS", "1000000"))
TOPICS = ("impressions", "viewer_events", "auctions")


# delta.writer values, the default first: every ratio is against it.
WRITERS = ("delta-rs", "spark")


def assignments(settings, consumer) -> list[tuple[str, int, int]]:
    partitions = [
        (settings.kafka.topics[key].name, p)
        for key in TOPICS
        for p in range(settings.kafka.topics[key].partitions)
    ]
    bounds = watermarks(consumer, partitions, 5)
    return [(topic, p, end) for (topic, p), (_, end) in bounds.items()]


def confluent_read(settings, work=None) -> int:
    """Read every record of the topics with one consumer; `work(topic, messages)` per poll."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers(settings),
            "group.id": "bench",
            "enable.auto.commit": False,
        }
    )
    plan = assignments(settings, consumer)
    total = sum(end for _, _, end in plan)
    consumer.assign([TopicPartition(t, p, 0) for t, p, _ in plan])
    seen = 0
    while seen < total:
        messages = consumer.consume(10_000, timeout=1.0)
        seen += len(messages)
        if work and messages:
            work(messages)
    if work:
        work(None)
    consumer.close()
    return seen


def plain_bronze_writer(settings, lake: str):
    """What bronze_ingest does, in plain Python: decode, validate, type, commit per 250k rows."""
    topics = {settings.kafka.topics[k].name: k for k in TOPICS}
    pending: dict[str, list[dict]] = {k: [] for k in TOPICS}

    def flush(key: str) -> None:
        rows, pending[key] = pending[key], []
        if rows:
            table = pa.Table.from_pylist(rows)
            write_deltalake(f"{lake}/{key}", table, mode="append")

    def work(messages) -> None:
        if messages is None:
            for key in TOPICS:
                flush(key)
            return
        for message in messages:
            key = topics[message.topic()]
            event, reasons = EVENT_SCHEMAS[key].parse(message.value())
            if not reasons:
                event["kafka_offset"] = message.offset()
                event["kafka_partition"] = message.partition()
                pending[key].append(event)
            if len(pending[key]) >= 250_000:
                flush(key)

    return work


def kafka_python_read(settings) -> int:
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KafkaPythonPartition

    probe = Consumer({"bootstrap.servers": bootstrap_servers(settings), "group.id": "bench"})
    plan = assignments(settings, probe)
    probe.close()
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers(settings), enable_auto_commit=False
    )
    consumer.assign([KafkaPythonPartition(t, p) for t, p, _ in plan])
    consumer.seek_to_beginning()
    total, seen = sum(end for _, _, end in plan), 0
    while seen < total:
        for records in consumer.poll(timeout_ms=1000, max_records=10_000).values():
            seen += len(records)
    consumer.close()
    return seen


def timed(label: str, run) -> float:
    started = time.perf_counter()
    count = run()
    elapsed = time.perf_counter() - started
    rate = count / elapsed
    print(f"  {label:58} {count:>9} events {elapsed:7.1f}s {rate:>10,.0f} events/s")
    return rate


def test_bronze_ingest_throughput(isolated_settings, spark, tmp_path):
    base = isolated_settings(kafka__max_offsets_per_trigger=500_000)
    records = itertools.islice(simulator(base, bad_ratio=0.0, seed=1), EVENTS)
    by_topic: dict[str, list[bytes]] = {k: [] for k in TOPICS}
    for record in records:
        by_topic[record.topic].append(record.value)
    for key in TOPICS:
        produce(base, key, by_topic[key])
    partitions = sum(base.kafka.topics[k].partitions for k in TOPICS)
    print(
        f"\nbronze_ingest throughput: {EVENTS} events in {partitions} Kafka partitions, "
        f"Spark {base.spark.master} on {os.cpu_count()} cores, max_offsets_per_trigger "
        f"{base.kafka.max_offsets_per_trigger}"
    )
    read_only = timed("plain consumer, confluent-kafka, read only", lambda: confluent_read(base))
    timed("plain consumer, kafka-python, read only", lambda: kafka_python_read(base))
    plain = timed(
        "plain consumer, confluent-kafka, parse+validate+Delta",
        lambda: confluent_read(base, plain_bronze_writer(base, str(tmp_path / "plain"))),
    )
    # Each path twice: the first run also starts Spark's Python workers (the Kafka reader's and
    # the sink's); a long-running stream pays that once.
    rates = {}
    for writer in WRITERS:
        for run in ("first run", "second run"):
            lake = tmp_path / f"{writer}-{run.replace(' ', '-')}"
            settings = base.model_copy(
                update={
                    "delta": base.delta.model_copy(update={"writer": writer}),
                    "lake": base.lake.model_copy(
                        update={"root": str(lake / "lake"), "checkpoint_root": str(lake / "chk")}
                    ),
                }
            )

            def spark_run(settings=settings) -> int:
                bronze_ingest.run(settings, available_now=True)
                return sum(read_table(settings, BRONZE_TABLES[k].name).num_rows for k in TOPICS)

            rates[(writer, run)] = timed(f"Spark bronze_ingest, {writer} writer, {run}", spark_run)
    for writer in WRITERS:
        warm = rates[(writer, "second run")]
        print(
            f"  {writer} writer: second run / plain parse+validate+Delta {warm / plain:.2f}, "
            f"/ plain read only {warm / read_only:.2f}"
        )
    default = rates[(WRITERS[0], "second run")]
    for writer in WRITERS[1:]:
        print(f"  {writer} / {WRITERS[0]} writer: {rates[(writer, 'second run')] / default:.2f}")
    assert json.loads(by_topic["impressions"][0])["event_id"]
