"""Announcing finished HLS segments on Kafka, once each, across restarts."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from jobs.common import metrics
from jobs.common.config import Settings
from jobs.common.kafka import client_config, flush, partitions_of, producer, watermarks
from jobs.ingest.ffmpeg import PLAYLIST
from jobs.ingest.playlist import PlaylistEntry, read_playlist
from jobs.ingest.storage import SegmentStore
from schemas.events import SEGMENTS

log = logging.getLogger("brandlake.ingest")
STATE_FILE = "announced.json"


class AnnounceError(RuntimeError):
    """A segment could not be announced on Kafka; nothing is marked announced."""


@dataclass(frozen=True)
class SegmentInfo:
    width: int
    height: int
    fps: float
    codec: str


def probe(path: Path) -> SegmentInfo:
    """Resolution, frame rate and codec of a segment's video stream (PyAV)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        return SegmentInfo(
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=round(float(rate), 3) if rate else 0.0,
            codec=stream.codec_context.name,
        )


class SegmentAnnouncer:
    """Publishes one `segments` event per finished segment of one stream.

    The last announced sequence is kept in `<out_dir>/announced.json` and written only after
    Kafka acknowledged the event, so a restart resumes after it. Event ids are
    `<stream_id>-<sequence>`, so a consumer can tell the one duplicate a crash between the
    acknowledgement and that write could cause.
    """

    def __init__(self, settings: Settings, stream_id: str, out_dir: Path, store: SegmentStore):
        self.settings = settings
        self.stream_id = stream_id
        self.out_dir = out_dir
        self.store = store
        self.topic = settings.kafka.topics["segments"].name
        self._producer = producer(settings, **{"enable.idempotence": True})
        self.state_path = out_dir / STATE_FILE
        state = json.loads(self.state_path.read_text()) if self.state_path.exists() else {}
        # A crash between Kafka's acknowledgement and the state file leaves the file one
        # segment behind: the topic itself has the last word.
        self.last_sequence: int = max(
            state.get("last_sequence", -1), last_announced_on_kafka(settings, stream_id)
        )
        self.unreadable: list[int] = state.get("unreadable", [])
        self.announced = 0

    def scan(self) -> list[dict]:
        """Announce every finished segment not announced yet; returns their events."""
        entries, _ = read_playlist(self.out_dir / PLAYLIST)
        events = []
        for entry in entries:
            if entry.sequence <= self.last_sequence:
                continue
            event = self._event(entry)
            if event is not None:
                self._send(event)
                events.append(event)
            self.last_sequence = entry.sequence
            self._save_state()
        return events

    def _event(self, entry: PlaylistEntry) -> dict | None:
        path = self.out_dir / entry.filename
        try:
            info = probe(path)
        except Exception as err:
            # A segment ffmpeg listed but nobody can decode: recorded, skipped, never fatal.
            log.error(
                "%s #%d: %s is unreadable (%s); skipped", self.stream_id, entry.sequence, path, err
            )
            self.unreadable.append(entry.sequence)
            metrics.SEGMENTS_UNREADABLE.labels(self.stream_id).inc()
            return None
        event = {
            "event_id": f"{self.stream_id}-{entry.sequence:06d}",
            "stream_id": self.stream_id,
            "sequence": entry.sequence,
            "uri": self.store.publish(path, self.stream_id),
            "start_time": _iso(entry.start_time or datetime.now(UTC)),
            "duration_s": round(entry.duration_s, 6),
            "width": info.width,
            "height": info.height,
            "fps": info.fps,
            "codec": info.codec,
            "bytes": path.stat().st_size,
        }
        reasons = SEGMENTS.validate(event)
        if reasons:
            log.error(
                "%s #%d: not announced: %s", self.stream_id, entry.sequence, "; ".join(reasons)
            )
            self.unreadable.append(entry.sequence)
            return None
        return event

    def _send(self, event: dict) -> None:
        failures: list[str] = []
        self._producer.produce(
            self.topic,
            key=self.stream_id.encode(),
            value=json.dumps(event, separators=(",", ":")).encode(),
            on_delivery=lambda err, msg: failures.append(str(err)) if err else None,
        )
        if flush(self._producer, 30) or failures:
            raise AnnounceError(
                f"segment {event['event_id']} was not acknowledged by Kafka "
                f"({failures[0] if failures else 'timed out'}); it will be announced on restart"
            )
        self.announced += 1
        metrics.SEGMENTS_ANNOUNCED.labels(self.stream_id).inc()
        log.info(
            "%s #%d: %.2fs %dx%d %gfps %s %d kB -> %s",
            self.stream_id,
            event["sequence"],
            event["duration_s"],
            event["width"],
            event["height"],
            event["fps"],
            event["codec"],
            event["bytes"] // 1024,
            self.topic,
        )

    def _save_state(self) -> None:
        temporary = self.state_path.with_suffix(".tmp")
        state = {"last_sequence": self.last_sequence, "unreadable": self.unreadable}
        temporary.write_text(json.dumps(state))
        os.replace(temporary, self.state_path)


def last_announced_on_kafka(settings: Settings, stream_id: str, lookback: int = 5000) -> int:
    """The highest sequence the `segments` topic holds for `stream_id` among its last
    `lookback` records per partition (segments are rare: that is minutes of many streams)."""
    topic = settings.kafka.topics["segments"].name
    consumer = Consumer(
        client_config(settings, **{"group.id": "brandlake-ingest", "enable.auto.commit": False})
    )
    try:
        timeout = settings.kafka.poll_timeout_s
        partitions = [(topic, p) for p in partitions_of(consumer, topic, timeout)]
        bounds = watermarks(consumer, partitions, timeout)
        ends = {p: end for (_, p), (_, end) in bounds.items()}
        starts = {p: max(low, end - lookback) for (_, p), (low, end) in bounds.items()}
        pending = {p for p in ends if ends[p] > starts[p]}
        consumer.assign([TopicPartition(topic, p, starts[p]) for p in pending])
        last, key = -1, stream_id.encode()
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            # Short polls: a long one waits its whole timeout for 1000 records that a topic of
            # a few segments never has (every restart of ingest stalled 10 s here).
            messages = consumer.consume(1000, timeout=0.2)
            if messages:
                deadline = time.monotonic() + timeout  # progress: the timeout is per stall
            for message in messages:
                if message.error() is not None:
                    continue
                if message.key() == key:
                    event = json.loads(message.value())
                    last = max(last, int(event.get("sequence", -1)))
                if message.offset() + 1 >= ends[message.partition()]:
                    pending.discard(message.partition())
        return last
    finally:
        consumer.close()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
