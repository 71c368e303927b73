"""Helpers for tests that talk to the real broker and read real Delta tables."""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
from deltalake import DeltaTable

from jobs.common.config import Settings
from jobs.common.kafka import producer


def produce(
    settings: Settings, topic_key: str, values: Iterable[bytes], partition: int | None = None
) -> int:
    """Send `values` to a configured topic and wait until the broker has them all."""
    out = producer(settings)
    topic = settings.kafka.topics[topic_key].name
    count = 0
    for value in values:
        kwargs = {"partition": partition} if partition is not None else {}
        out.produce(topic, value=value, key=str(count).encode(), **kwargs)
        count += 1
        if count % 10_000 == 0:
            out.poll(0)
    assert out.flush(30) == 0
    return count


def read_table(settings: Settings, name: str) -> pa.Table:
    return pa.table(DeltaTable(settings.table_uri(name)).to_pyarrow_dataset().to_table())
