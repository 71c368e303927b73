"""Kafka as a Spark streaming source without Spark's Kafka jar: a Python Data Source.

Registered as format `brandlake_kafka`, it takes the options and yields the columns of Spark's
native `kafka` source (`key, value, topic, partition, offset, timestamp, timestampType`), so a
job switches between the two by format name alone (`kafka.source` in `conf/`).

Offsets per topic partition live in Spark's checkpoint (`{"topic": {"0": 42}}`, the native
source's format). Each micro-batch plans one input partition per Kafka partition with new
records (split further, by offset range, to reach `minPartitions` tasks); executors read them
with assign/seek (no consumer group, nothing to wedge) and return Arrow batches. The driver
only asks for offsets.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import (
    ReadAllAvailable,
    ReadLimit,
    ReadMaxRows,
    SupportsTriggerAvailableNow,
)

log = logging.getLogger("brandlake.kafka_source")

FORMAT = "brandlake_kafka"
KAFKA_SCHEMA = (
    "key binary, value binary, topic string, partition int, offset long, "
    "timestamp timestamp, timestampType int"
)
ARROW_SCHEMA = pa.schema(
    [
        ("key", pa.binary()),
        ("value", pa.binary()),
        ("topic", pa.string()),
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("timestampType", pa.int32()),
    ]
)
ARROW_BATCH_ROWS = 50_000
Offsets = dict[str, dict[str, int]]


class DataLossError(RuntimeError):
    """Records the checkpoint expects are gone from Kafka (retention, or a recreated topic)."""


class KafkaSource(DataSource):
    """Options: `kafka.bootstrap.servers`, `subscribe` (comma-separated), `startingOffsets`,
    `maxOffsetsPerTrigger`, `minPartitions`, `kafkaConsumer.pollTimeoutMs`, `failOnDataLoss`,
    and any other `kafka.<librdkafka setting>`."""

    @classmethod
    def name(cls) -> str:
        return FORMAT

    def schema(self) -> str:
        return KAFKA_SCHEMA

    def streamReader(self, schema) -> DataSourceStreamReader:
        return KafkaStreamReader(self.options)


@dataclass(frozen=True)
class KafkaPartition(InputPartition):
    topic: str
    partition: int
    start: int
    end: int
    config: tuple[tuple[str, str], ...]
    poll_timeout_s: float


class KafkaStreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    def __init__(self, options) -> None:
        # Options are case-insensitive; librdkafka settings are lower case anyway.
        self.config = {k[len("kafka.") :]: v for k, v in options.items() if k.startswith("kafka.")}
        if "bootstrap.servers" not in self.config:
            raise ValueError("option kafka.bootstrap.servers is required")
        self.topics = [t.strip() for t in options.get("subscribe", "").split(",") if t.strip()]
        if not self.topics:
            raise ValueError("option subscribe (comma-separated topics) is required")
        self.starting = options.get("startingOffsets", "earliest")
        max_rows = options.get("maxOffsetsPerTrigger")
        self.max_rows = int(max_rows) if max_rows else None
        self.min_partitions = int(options.get("minPartitions") or 0)
        self.poll_timeout_s = float(options.get("kafkaConsumer.pollTimeoutMs", "10000")) / 1000
        self.fail_on_data_loss = options.get("failOnDataLoss", "true").lower() == "true"
        self._consumer = None
        self._available_now_end: Offsets | None = None

    # -- driver side -------------------------------------------------------------------------

    def _bounds(self) -> dict[str, dict[str, tuple[int, int]]]:
        from confluent_kafka import Consumer

        from jobs.common.kafka import partitions_of, watermarks

        if self._consumer is None:
            self._consumer = Consumer(_consumer_config(self.config, "brandlake-driver"))
        partitions = [
            (topic, p)
            for topic in self.topics
            for p in partitions_of(self._consumer, topic, self.poll_timeout_s)
        ]
        bounds: dict[str, dict[str, tuple[int, int]]] = {topic: {} for topic in self.topics}
        found = watermarks(self._consumer, partitions, self.poll_timeout_s)
        for (topic, p), value in found.items():
            bounds[topic][str(p)] = value
        return bounds

    def initialOffset(self) -> Offsets:
        bounds = self._bounds()
        if self.starting in ("earliest", "latest"):
            pick = 0 if self.starting == "earliest" else 1
            return {t: {p: b[pick] for p, b in parts.items()} for t, parts in bounds.items()}
        given = json.loads(self.starting)
        # -2 means earliest and -1 latest, as in Spark's kafka source.
        return {
            t: {
                p: {-2: b[0], -1: b[1]}.get(given.get(t, {}).get(p, -2), given.get(t, {}).get(p))
                for p, b in parts.items()
            }
            for t, parts in bounds.items()
        }

    def getDefaultReadLimit(self) -> ReadLimit:
        return ReadMaxRows(self.max_rows) if self.max_rows else ReadAllAvailable()

    def prepareForTriggerAvailableNow(self) -> None:
        self._available_now_end = self._ends(self._bounds())

    @staticmethod
    def _ends(bounds: dict[str, dict[str, tuple[int, int]]]) -> Offsets:
        return {t: {p: b[1] for p, b in parts.items()} for t, parts in bounds.items()}

    def latestOffset(self, start: Offsets, limit: ReadLimit) -> Offsets:
        bounds = self._bounds()
        ends = self._ends(bounds)
        if self._available_now_end is not None:
            ends = {
                t: {
                    p: min(e, self._available_now_end.get(t, {}).get(p, e))
                    for p, e in parts.items()
                }
                for t, parts in ends.items()
            }
        begin = {
            t: {p: start.get(t, {}).get(p, bounds[t][p][0]) for p in parts}
            for t, parts in ends.items()
        }
        for topic, parts in begin.items():
            for p, offset in parts.items():
                low, high = bounds[topic][p]
                if not low <= offset <= high:
                    parts[p] = self._lost(topic, p, offset, low, high)
        # The engine's limit wins: ReadAllAvailable means everything, even with a configured cap.
        if isinstance(limit, ReadMaxRows):
            max_rows = limit.max_rows
        elif isinstance(limit, ReadAllAvailable):
            max_rows = None
        else:
            max_rows = self.max_rows
        return _apply_limit(begin, ends, max_rows)

    def _lost(self, topic: str, p: str, offset: int, low: int, high: int) -> int:
        """Where to resume when the checkpoint's offset is no longer in the partition: records
        expired (offset below the earliest left), or the topic was recreated (offset past its
        end). Fails unless failOnDataLoss=false, which skips to the earliest record left."""
        if offset < low:
            what = f"offsets {offset}..{low - 1} are gone (retention)"
        else:
            what = f"the checkpoint is at {offset}, past the end {high} (a recreated topic?)"
        if self.fail_on_data_loss:
            raise DataLossError(
                f"{topic} partition {p}: {what}. Set failOnDataLoss=false to skip the gap, or "
                "start from a new checkpoint."
            )
        log.warning("data loss: %s partition %s: %s; resuming at %d (failOnDataLoss=false)",
                    topic, p, what, low)  # fmt: skip
        return low

    def partitions(self, start: Offsets, end: Offsets) -> list[KafkaPartition]:
        config = tuple(sorted(self.config.items()))
        ranges = [
            (topic, int(p), start.get(topic, {}).get(p, stop), stop)
            for topic, parts in end.items()
            for p, stop in parts.items()
        ]
        return [
            KafkaPartition(topic, p, begin, stop, config, self.poll_timeout_s)
            for topic, p, begin, stop in split_ranges(
                [r for r in ranges if r[3] > r[2]], self.min_partitions
            )
        ]

    def commit(self, end: Offsets) -> None:
        """Offsets live in Spark's checkpoint; nothing to acknowledge to Kafka."""

    def stop(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    # -- executor side -----------------------------------------------------------------------

    def read(self, partition: KafkaPartition) -> Iterator[pa.RecordBatch]:
        return read_partition(partition)


def _consumer_config(config: dict[str, str], client_id: str) -> dict[str, object]:
    return {
        **config,
        "group.id": "brandlake-unused",  # librdkafka wants one; assign() never joins it
        "client.id": client_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": False,
        "fetch.wait.max.ms": 100,
    }


def split_ranges(
    ranges: list[tuple[str, int, int, int]], min_partitions: int
) -> list[tuple[str, int, int, int]]:
    """(topic, partition, start, end) ranges cut into at least `min_partitions` pieces where
    there are records enough, each in parts proportional to its share of the records (as the
    native source's `minPartitions`): a backlog on one Kafka partition is read and processed
    by several tasks, without a shuffle."""
    total = sum(end - begin for _, _, begin, end in ranges)
    if min_partitions <= len(ranges) or total == 0:
        return ranges
    pieces = []
    for topic, partition, begin, end in ranges:
        size = end - begin
        parts = min(size, max(1, math.ceil(size * min_partitions / total)))
        pieces += [
            (topic, partition, begin + size * i // parts, begin + size * (i + 1) // parts)
            for i in range(parts)
        ]
    return pieces


def _apply_limit(begin: Offsets, ends: Offsets, max_rows: int | None) -> Offsets:
    """Cap the batch at `max_rows` records, shared among partitions by what each has waiting."""
    backlog = {
        (t, p): max(0, e - begin[t][p]) for t, parts in ends.items() for p, e in parts.items()
    }
    total = sum(backlog.values())
    if max_rows is None or total <= max_rows:
        return ends
    share = {key: waiting * max_rows // total for key, waiting in backlog.items()}
    spare = max_rows - sum(share.values())
    for key in sorted(backlog, key=lambda k: backlog[k] - share[k], reverse=True):
        if spare <= 0:
            break
        extra = min(spare, backlog[key] - share[key])
        share[key] += extra
        spare -= extra
    return {t: {p: begin[t][p] + share[(t, p)] for p in parts} for t, parts in ends.items()}


def read_partition(part: KafkaPartition) -> Iterator[pa.RecordBatch]:
    """Records [start, end) of one topic partition as Arrow batches."""
    from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

    consumer = Consumer(
        _consumer_config(dict(part.config), f"brandlake-{part.topic}-{part.partition}")
    )
    consumer.assign([TopicPartition(part.topic, part.partition, part.start)])
    columns: dict[str, list] = {name: [] for name in ARROW_SCHEMA.names}
    position = part.start
    last_progress = time.monotonic()
    try:
        while position < part.end:
            messages = consumer.consume(num_messages=min(10_000, part.end - position), timeout=0.5)
            for message in messages:
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise KafkaException(error)
                offset = message.offset()
                if offset >= part.end:
                    position = part.end
                    break
                kind, millis = message.timestamp()
                columns["key"].append(message.key())
                columns["value"].append(message.value())
                columns["offset"].append(offset)
                columns["timestamp"].append(millis * 1000 if millis >= 0 else None)
                columns["timestampType"].append(max(kind - 1, 0))
                position = offset + 1
            if messages:
                last_progress = time.monotonic()
            elif position < part.end:
                # Offsets can have holes (compaction, transaction markers): trust the position.
                committed = consumer.position([TopicPartition(part.topic, part.partition)])[0]
                if committed.offset >= part.end:
                    break
                if time.monotonic() - last_progress > part.poll_timeout_s:
                    raise TimeoutError(
                        f"{part.topic}-{part.partition}: no records between offsets {position} "
                        f"and {part.end} for {part.poll_timeout_s:g}s; the broker may be down "
                        "or the records deleted"
                    )
            if len(columns["offset"]) >= ARROW_BATCH_ROWS:
                yield _batch(columns, part)
                columns = {name: [] for name in ARROW_SCHEMA.names}
        if columns["offset"]:
            yield _batch(columns, part)
    finally:
        consumer.close()


def _batch(columns: dict[str, list], part: KafkaPartition) -> pa.RecordBatch:
    rows = len(columns["offset"])
    columns["topic"] = [part.topic] * rows
    columns["partition"] = [part.partition] * rows
    return pa.RecordBatch.from_pydict(columns, schema=ARROW_SCHEMA)
