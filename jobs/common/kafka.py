"""Kafka plumbing: where the broker is, topics, producers, watermarks."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterable
from functools import lru_cache

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from jobs.common.config import Settings


class BrokerUnavailableError(RuntimeError):
    """The Kafka broker cannot be reached; the message names the address and what to check."""


def bootstrap_servers(settings: Settings) -> str:
    """The configured brokers; `embedded` must have been resolved by the entry point
    (`infra.local.services.resolve`), which knows the embedded broker's address once it runs."""
    if settings.kafka.bootstrap_servers == "embedded":
        raise BrokerUnavailableError(
            "the embedded broker is not running, so its address is not known: run "
            "`brandlake services up` (or set kafka.bootstrap_servers)"
        )
    return settings.kafka.bootstrap_servers


def client_config(settings: Settings, **extra: object) -> dict[str, object]:
    return {"bootstrap.servers": bootstrap_servers(settings), **settings.kafka.client, **extra}


def topic_names(settings: Settings, keys: Iterable[str] | None = None) -> list[str]:
    keys = list(keys) if keys is not None else list(settings.kafka.topics)
    return [settings.kafka.topics[k].name for k in keys]


def check_broker(config: dict[str, object], timeout_s: float = 5.0) -> set[str]:
    """The broker's topic names; a clear error when it cannot be reached in `timeout_s`."""
    admin = AdminClient({**config, "socket.timeout.ms": int(timeout_s * 1000)})
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except KafkaException as err:
        raise BrokerUnavailableError(
            f"cannot reach the Kafka broker at {config['bootstrap.servers']} within "
            f"{timeout_s:g}s ({err.args[0]}). Is it running? For the embedded stack run "
            "`brandlake services up`; otherwise check kafka.bootstrap_servers."
        ) from None
    return set(metadata.topics)


def ensure_topics(settings: Settings) -> list[str]:
    """Create the configured topics that do not exist yet; returns the ones created."""
    config = client_config(settings)
    existing = check_broker(config)
    wanted = [t for t in settings.kafka.topics.values() if t.name not in existing]
    if not wanted:
        return []
    admin = AdminClient(config)
    futures = admin.create_topics(
        [NewTopic(t.name, num_partitions=t.partitions, replication_factor=1) for t in wanted],
        operation_timeout=10,
    )
    for future in futures.values():
        try:
            future.result(timeout=15)
        except KafkaException as err:
            if "TOPIC_ALREADY_EXISTS" not in str(err):
                raise
    return [t.name for t in wanted]


_THROUGHPUT = {"linger.ms": 20, "batch.num.messages": 10000}


def producer(settings: Settings, **extra: object) -> Producer:
    """A producer tuned for throughput; call `flush()` before exiting."""
    return Producer(client_config(settings, **{**_THROUGHPUT, **extra}))


def flush(producer: Producer, timeout_s: float) -> int:
    """`producer.flush(timeout_s)` with a Ctrl-C held until it returns: confluent-kafka 2.16
    turns a KeyboardInterrupt that lands inside a delivery callback into a SystemError, so
    a Ctrl-C during an announcement crashed the CLI. A second Ctrl-C interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        return producer.flush(timeout_s)  # signals only reach the main thread
    held: list[int] = []

    def hold(signum: int, frame: object) -> None:
        if held:
            raise KeyboardInterrupt
        held.append(signum)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        return producer.flush(timeout_s)
    finally:
        signal.signal(signal.SIGINT, previous)
        if held and callable(previous):
            previous(signal.SIGINT, None)


@lru_cache(maxsize=4)
def cached_producer(config: tuple[tuple[str, object], ...]) -> Producer:
    """One producer per Python worker and client configuration (executors reuse it)."""
    return Producer({**_THROUGHPUT, **dict(config)})


def publish_json(settings: Settings, topic_key: str, messages: list[dict], what: str) -> None:
    """`messages` as JSON on the configured topic `topic_key`, keyed by their `stream_id` (a
    stream's messages stay in order); waits for the broker's acks. `what`: for the error."""
    if not messages:
        return
    out = cached_producer(tuple(sorted(client_config(settings).items())))
    topic = settings.kafka.topics[topic_key].name
    for message in messages:
        out.produce(topic, key=message["stream_id"].encode(), value=json.dumps(message).encode())
        out.poll(0)
    if flush(out, 30):
        raise RuntimeError(f"the broker did not acknowledge the {what} in 30 s")


def partitions_of(consumer: Consumer, topic: str, timeout_s: float) -> list[int]:
    metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
    if metadata is None or metadata.error is not None or not metadata.partitions:
        reason = metadata.error if metadata is not None else "unknown topic"
        raise BrokerUnavailableError(f"topic {topic!r} is not available on the broker: {reason}")
    return sorted(metadata.partitions)


Bounds = dict[tuple[str, int], tuple[int, int]]  # (topic, partition) -> (beginning, end)


# Errors a partition shows for a moment after it is created or while its leader moves.
_MOVING_LEADER = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
}


def watermarks(consumer: Consumer, partitions: list[tuple[str, int]], timeout_s: float) -> Bounds:
    """The broker's (low, high) watermark of each (topic, partition); a partition whose leader
    is moving (just created, a broker restarting) is asked again for up to `timeout_s`."""
    return {
        (topic, partition): _watermark(consumer, TopicPartition(topic, partition), timeout_s)
        for topic, partition in partitions
    }


def _watermark(consumer: Consumer, partition: TopicPartition, timeout_s: float) -> tuple:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return consumer.get_watermark_offsets(partition, timeout=timeout_s, cached=False)
        except KafkaException as error:
            moving = error.args[0].code() in _MOVING_LEADER
            if not moving or time.monotonic() >= deadline:
                raise
            time.sleep(0.2)
