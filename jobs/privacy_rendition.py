"""privacy_rendition: a second HLS rendition of a stream with every face blurred.

    brandlake run privacy-rendition [--available-now]

For the streams whose catalog entry has `effects: [face_blur]`. Reads segment events (the
source rendition; rendered ones are left alone) from Kafka. Each segment is re-rendered on an
executor (`udfs/effects/rendition.py`: CenterFace looks every `detect_every` frames, every frame
re-encoded at its own time, the sound copied) to `<landing>/<stream>/blurred/seg_NNNNNN.ts`.
Out of each batch:

- `ops.renditions` (one row per rendered segment: where, frames, faces found), written exactly
  once per micro-batch by the Delta sink; `bronze.quarantine` rows for events that are invalid
  or whose segment cannot be decoded;
- then, from the committed rows, each touched stream's `<landing>/<stream>/blurred/index.m3u8`
  (rewritten whole from `ops.renditions`, so a replay writes the same playlist), and one event
  per rendered segment on the `segments` topic with `rendition: blurred` (at least once; its
  `event_id` is the source's plus `-blurred`). frame_analysis does not analyse those.

A segment file is written whole or not at all, so a crash mid-segment leaves none, and the
replayed batch renders it again to the same name.
"""

from __future__ import annotations

import logging
import math
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from jobs.common.config import PrivacyRenditionConf, Settings, is_uri
from jobs.common.delta_sink import DeltaSink, WriteResult
from jobs.common.kafka import publish_json
from jobs.common.lake import OpenTables
from jobs.common.quarantine import sort_records
from jobs.common.spark import read_kafka_stream
from jobs.common.streaming import BatchClock, run_job, start_query
from jobs.ingest.storage import landing_filesystem, segment_store, spool_dir
from schemas.events import SEGMENTS
from schemas.tables import QUARANTINE, RENDITIONS
from udfs.decoding.frames import SegmentDecodeError

log = logging.getLogger("brandlake.privacy_rendition")

TABLES = [RENDITIONS, QUARANTINE]
RENDITION = "blurred"
PLAYLIST = "index.m3u8"


@dataclass(frozen=True)
class RenderSegments:
    """Kafka segment events (one Arrow batch) -> `ops.renditions` rows and the quarantine;
    the rendered segments are written on the executor as a side effect, before the commit."""

    conf: PrivacyRenditionConf
    streams: frozenset[str]
    settings: Settings  # where segments land (plain values: pickled to the executors)
    rendered_at: datetime

    def __call__(self, batch: pa.RecordBatch) -> dict[str, pa.Table]:
        records = sort_records(batch, self._render, self.rendered_at)
        return {
            RENDITIONS.name: pa.Table.from_pylist(
                records.parsed("renditions"), schema=RENDITIONS.schema
            ),
            QUARANTINE.name: records.quarantine,
        }

    def _render(self, topic: str, value: bytes | None) -> tuple[str, dict | None, list[str]]:
        """A segment event -> its rendered segment's row; None for the events this job leaves
        (other streams, other renditions); or why it cannot be rendered."""
        from udfs.effects.rendition import blur_segment

        segment, why = SEGMENTS.parse(value)
        if why:
            return "renditions", None, why
        stream = segment["stream_id"]
        if (segment.get("rendition") or "source") != "source" or stream not in self.streams:
            return "renditions", None, []
        name = segment["uri"].rsplit("/", 1)[-1]
        with tempfile.TemporaryDirectory(prefix="brandlake-rendition-") as scratch:
            local = rendition_path(self.settings, stream, name, Path(scratch))
            try:
                rendered = blur_segment(
                    segment["uri"], local, face_blur(self.conf), self.conf.detect_every,
                    landing_filesystem(self.settings), self.conf.x264_preset,
                )  # fmt: skip
            except SegmentDecodeError as error:
                return "renditions", None, [f"undecodable segment, not rendered: {error}"]
            size = local.stat().st_size
            uri = segment_store(self.settings).publish(local, f"{stream}/{RENDITION}")
        return (
            "renditions",
            {
                "rendition_id": f"{segment['event_id']}-{RENDITION}",
                "stream_id": stream,
                "sequence": segment["sequence"],
                "rendition": RENDITION,
                "source_uri": segment["uri"],
                "uri": uri,
                "start_time": segment["start_time"],
                "duration_s": segment["duration_s"],
                "width": segment["width"],
                "height": segment["height"],
                "fps": segment["fps"],
                "bytes": size,
                "frames": rendered.frames,
                "faces": rendered.faces,
                "frames_looked": rendered.looked,
                "rendered_at": self.rendered_at,
                "render_date": self.rendered_at.date(),
            },
            [],
        )


_FACES: dict[tuple, object] = {}


def face_blur(conf: PrivacyRenditionConf):
    """The face detector, loaded once per Python worker (Spark reuses workers)."""
    from udfs.devices import torch_device
    from udfs.effects.faces import FaceBlur

    key = (conf.threshold, conf.detect_side, conf.margin)
    if key not in _FACES:
        _FACES[key] = FaceBlur(*key, device=torch_device())
    return _FACES[key]


def rendition_path(settings: Settings, stream_id: str, name: str, scratch: Path) -> Path:
    """Where a rendered segment is written: beside the source's playlist in the landing
    folder, or in `scratch` before it is uploaded to an object-store landing area."""
    if is_uri(settings.landing_uri(stream_id)):
        return scratch / name
    folder = spool_dir(settings, stream_id) / RENDITION
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def playlist(rows: list[dict]) -> str:
    """An HLS playlist of a stream's rendered segments (`ops.renditions` rows), in order, each
    with its wall-clock start; open-ended (the stream may go on)."""
    rows = sorted({r["sequence"]: r for r in rows}.values(), key=lambda r: r["sequence"])
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{math.ceil(max((r['duration_s'] for r in rows), default=1))}",
        f"#EXT-X-MEDIA-SEQUENCE:{rows[0]['sequence'] if rows else 0}",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    previous = None
    for row in rows:
        if previous is not None and row["sequence"] != previous + 1:
            lines.append("#EXT-X-DISCONTINUITY")  # a segment that could not be rendered
        start = row["start_time"].astimezone(UTC).isoformat(timespec="milliseconds")
        lines += [
            f"#EXT-X-PROGRAM-DATE-TIME:{start.replace('+00:00', 'Z')}",
            f"#EXTINF:{row['duration_s']:.6f},",
            row["uri"].rsplit("/", 1)[-1],
        ]
        previous = row["sequence"]
    return "\n".join(lines) + "\n"


def write_playlists(settings: Settings, streams: set[str]) -> None:
    """Each stream's rendition playlist, rewritten whole from `ops.renditions`."""
    tables = OpenTables(settings)
    for stream in sorted(streams):
        found = tables.read(RENDITIONS.name, RENDITIONS.columns,
                            ds.field("stream_id") == stream)  # fmt: skip
        text = playlist(found.to_pylist() if found is not None else [])
        with tempfile.TemporaryDirectory(prefix="brandlake-playlist-") as scratch:
            local = rendition_path(settings, stream, PLAYLIST, Path(scratch))
            partial = local.with_name(f".{PLAYLIST}.partial")
            partial.write_text(text)
            partial.replace(local)  # players never read half a playlist
            segment_store(settings).publish(local, f"{stream}/{RENDITION}")


def publish_renditions(settings: Settings, rows: list[dict]) -> None:
    """One `segments` event per rendered segment (rendition `blurred`); waits for the acks."""
    events = [
        {
            "event_id": row["rendition_id"],
            "stream_id": row["stream_id"],
            "sequence": row["sequence"],
            "uri": row["uri"],
            "start_time": row["start_time"].astimezone(UTC).isoformat(),
            "duration_s": row["duration_s"],
            "rendition": row["rendition"],
            **{key: row[key] for key in ("width", "height", "fps", "bytes")},
            "codec": "h264",
        }
        for row in rows
    ]
    publish_json(settings, "segments", events, "rendition events")


# -- extract, transform, load ----------------------------------------------------------------


def extract(spark: SparkSession, settings: Settings) -> DataFrame:
    """Segment events: only references move, never pixels."""
    return read_kafka_stream(spark, settings, ["segments"])


def transform(settings: Settings, rendered_at: datetime) -> RenderSegments:
    """How one batch of segment events becomes renditions: rendered on the executors."""
    streams = settings.catalog.streams_with("face_blur")
    return RenderSegments(settings.jobs.privacy_rendition, streams, settings, rendered_at)


def load(
    segments: DataFrame,
    render: RenderSegments,
    sink: DeltaSink,
    app_id: str,
    batch_id: int,
    clock: BatchClock | None = None,
) -> list[WriteResult]:
    """Delta first (one exactly-once commit per table), then, from what was committed, the
    playlists and the rendition events."""
    clock = clock or BatchClock()
    results = sink.write_split(segments, TABLES, render, app_id, batch_id, clock)
    with clock.phase("publish"):
        rows = sink.batch_rows(RENDITIONS, app_id, batch_id).to_pylist()
        write_playlists(sink.settings, {row["stream_id"] for row in rows})
        publish_renditions(sink.settings, rows)
    return results


def start(settings: Settings, spark: SparkSession, available_now: bool = False) -> StreamingQuery:
    """The running query: extract -> transform -> load, one micro-batch at a time."""
    streams = settings.catalog.streams_with("face_blur")
    if not streams:
        log.warning("no stream in the catalog has `effects: [face_blur]`: nothing to render")
    else:
        log.info("faces blurred in a second rendition of: %s", ", ".join(sorted(streams)))
    sink = DeltaSink(settings)

    def handle(batch: DataFrame, batch_id: int, query_id: str, clock: BatchClock) -> list:
        results = load(batch, transform(settings, datetime.now(UTC)), sink, query_id, batch_id,
                       clock)  # fmt: skip
        sink.compact(TABLES, batch_id, clock)
        return results

    segments = extract(spark, settings)
    return start_query(segments, settings, settings.jobs.privacy_rendition, handle, available_now)


def run(settings: Settings, available_now: bool = False) -> None:
    """Run the job until stopped (Ctrl-C, SIGTERM) or, with `available_now`, caught up."""
    run_job("privacy_rendition", start, settings, available_now, TABLES)


def main(argv: list[str] | None = None) -> None:
    from jobs.entrypoint import streaming_job_main

    streaming_job_main(argv, "brandlake run privacy-rendition", __doc__.split("\n")[0], run)


if __name__ == "__main__":
    main()
