"""Delta table definitions. Bronze tables derive from the event schemas in `schemas.events`."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from schemas.events import EVENT_SCHEMAS, EventSchema

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "long": pa.int64(),
    "int": pa.int32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
TIMESTAMP = ARROW_TYPES["timestamp"]


@dataclass(frozen=True)
class TableSpec:
    """A Delta table: its name in the lake (`layer.table`), schema and partition columns."""

    name: str
    schema: pa.Schema
    partition_by: tuple[str, ...] = ()
    doc: str = ""
    # Nullable columns added after tables were first made: added to an existing table that
    # lacks them (its earlier rows read null), instead of refusing it (jobs/common/delta_sink.py)
    added_columns: tuple[str, ...] = ()
    producer: str = ""  # the command that writes it, for "not written yet: run ..." messages

    @property
    def columns(self) -> list[str]:
        return self.schema.names

    @property
    def spark_schema(self):
        """The schema as a Spark `StructType` (imports Spark only when asked)."""
        from pyspark.sql.pandas.types import from_arrow_schema

        return from_arrow_schema(self.schema)


KAFKA_COORDINATES = [
    pa.field("kafka_topic", pa.string()),
    pa.field("kafka_partition", pa.int32()),
    pa.field("kafka_offset", pa.int64()),
    pa.field("kafka_timestamp", TIMESTAMP),
]


def bronze_table(event: EventSchema) -> TableSpec:
    """The bronze table of a topic: typed event fields, the raw payload, Kafka coordinates."""
    fields = [pa.field(f.name, ARROW_TYPES[f.type]) for f in event.fields]
    fields += [
        pa.field("payload", pa.string()),
        *KAFKA_COORDINATES,
        pa.field("ingest_time", TIMESTAMP),
        pa.field("event_date", pa.date32()),
    ]
    return TableSpec(
        name=f"bronze.{event.topic}",
        schema=pa.schema(fields),
        partition_by=("event_date",),
        doc=f"{event.doc} One row per valid Kafka record, partitioned by the date of "
        f"{event.event_time}.",
        added_columns=tuple(f.name for f in event.fields if f.added_later),
        producer="brandlake run bronze-ingest",
    )


BRONZE_TABLES: dict[str, TableSpec] = {t: bronze_table(e) for t, e in EVENT_SCHEMAS.items()}

QUARANTINE = TableSpec(
    name="bronze.quarantine",
    producer="brandlake run bronze-ingest (and frame-analysis, exposure-revenue)",
    schema=pa.schema(
        [
            *KAFKA_COORDINATES,
            pa.field("kafka_key", pa.binary()),
            pa.field("payload", pa.binary()),
            pa.field("reason", pa.string()),
            pa.field("ingest_time", TIMESTAMP),
            pa.field("ingest_date", pa.date32()),
        ]
    ),
    partition_by=("ingest_date",),
    doc="Records that failed parsing or validation: raw bytes, the reason, where they came from.",
)

_SEGMENT_FRAME = [
    pa.field("stream_id", pa.string()),
    pa.field("segment_id", pa.string()),  # the segment event's event_id
    pa.field("sequence", pa.int64()),
    pa.field("frame_index", pa.int32()),  # in the segment
    pa.field("frame_time", TIMESTAMP),  # wall clock: segment start_time + pts_s
    pa.field("pts_s", pa.float64()),  # seconds from the segment's first frame
]
_ANALYSED = [
    pa.field("analysed_at", TIMESTAMP),
    pa.field("frame_date", pa.date32()),
]

# How frame_analysis sampled the frame's segment: its stream's processing mode then (`brandlake
# streams mode`, ops.stream_control) and the frames per second that mode samples (0: keyframes)
_PROCESSING = [pa.field("processing_mode", pa.string()), pa.field("sample_fps", pa.float64())]

DETECTIONS = TableSpec(
    name="silver.detections",
    producer="brandlake run frame-analysis",
    schema=pa.schema(
        [
            pa.field("detection_id", pa.string()),  # <segment_id>-<frame_index>-<kind>-<n>
            *_SEGMENT_FRAME,
            pa.field("kind", pa.string()),  # brand | person
            pa.field("label", pa.string()),  # catalog brand id, or "person"
            pa.field("confidence", pa.float64()),
            pa.field("x1", pa.float64()),  # box normalised to the frame, 0..1
            pa.field("y1", pa.float64()),
            pa.field("x2", pa.float64()),
            pa.field("y2", pa.float64()),
            pa.field("area_share", pa.float64()),  # box area / frame area
            pa.field("model_name", pa.string()),
            pa.field("model_version", pa.string()),
            *_ANALYSED,
            *_PROCESSING,
        ]
    ),
    partition_by=("frame_date",),
    doc="Brands and people found in sampled frames: one row per box, by frame_analysis.",
    added_columns=tuple(f.name for f in _PROCESSING),
)

SEGMENT_CONTEXT = TableSpec(
    name="silver.segment_context",
    producer="brandlake run frame-analysis",
    schema=pa.schema(
        [
            *_SEGMENT_FRAME,
            pa.field("person_count", pa.int32()),
            pa.field("brand_count", pa.int32()),
            pa.field("brightness", pa.float64()),  # mean luma, 0..1
            pa.field("motion", pa.float64()),  # mean luma change since the last sampled frame
            # The seconds of video the frame stands for: to the next analysed frame, or the
            # segment's end. Exposure counts these as screen time.
            pa.field("interval_s", pa.float64()),
            # Analysed for brands only, to place an appearance's first or last frame exactly:
            # no people, scene or safety (null)
            pa.field("refined", pa.bool_()),
            pa.field("scene_label", pa.string()),
            pa.field("safety_score", pa.float64()),  # 1 - P(nsfw); null when disabled
            pa.field("models", pa.string()),  # every model (and version) that saw the frame
            *_ANALYSED,
            # Nested columns last: Delta keeps statistics for the flat ones.
            pa.field("scene_scores", pa.map_(pa.string(), pa.float64())),
            pa.field("scene_embedding", pa.list_(pa.float32())),
            *_PROCESSING,
        ]
    ),
    partition_by=("frame_date",),
    doc="One row per sampled frame: scene, safety, people and brands counted, light, motion.",
    added_columns=tuple(f.name for f in _PROCESSING),
)

_BOX = [pa.field(name, pa.float64()) for name in ("x1", "y1", "x2", "y2")]  # normalised, 0..1

TEXT_LINES = TableSpec(
    name="silver.text_lines",
    producer="brandlake run frame-analysis",
    schema=pa.schema(
        [
            pa.field("line_id", pa.string()),  # <segment_id>-<frame_index>-text-<n>
            *_SEGMENT_FRAME,
            pa.field("text", pa.string()),
            pa.field("confidence", pa.float64()),  # the OCR's, 0..1
            *_BOX,
            pa.field("model_name", pa.string()),
            pa.field("model_version", pa.string()),
            *_ANALYSED,
        ]
    ),
    partition_by=("frame_date",),
    doc="Lines of on-screen text (captions, lower thirds, signs) read from sampled frames at "
    "models.text.sample_fps: one row per line.",
)

TRANSCRIPTS = TableSpec(
    name="silver.transcripts",
    producer="brandlake run frame-analysis",
    schema=pa.schema(
        [
            pa.field("word_id", pa.string()),  # <segment_id>-w<n>
            pa.field("stream_id", pa.string()),
            pa.field("segment_id", pa.string()),
            pa.field("sequence", pa.int64()),
            pa.field("word_index", pa.int32()),  # in the segment, in the order said
            pa.field("word", pa.string()),  # as written by the model, punctuation included
            pa.field("probability", pa.float64()),
            # from the segment's start; a word begun in the segment before starts below 0
            pa.field("start_s", pa.float64()),
            pa.field("end_s", pa.float64()),
            pa.field("word_time", TIMESTAMP),  # wall clock: segment start_time + start_s
            pa.field("model_name", pa.string()),
            pa.field("model_version", pa.string()),
            pa.field("analysed_at", TIMESTAMP),
            pa.field("word_date", pa.date32()),
        ]
    ),
    partition_by=("word_date",),
    doc="Words said in each segment's audio, with their times (Whisper tiny.en): one row per "
    "word, in the segment it ends in.",
)

BRAND_MENTIONS = TableSpec(
    name="silver.brand_mentions",
    producer="brandlake run frame-analysis",
    schema=pa.schema(
        [
            # <segment_id>-<frame_index>-text-<brand>, <segment_id>-<frame_index>-speech-<n>
            pa.field("mention_id", pa.string()),
            pa.field("stream_id", pa.string()),
            pa.field("segment_id", pa.string()),
            pa.field("sequence", pa.int64()),
            pa.field("kind", pa.string()),  # text (on screen) | speech (said)
            pa.field("brand_id", pa.string()),
            pa.field("matched", pa.string()),  # the words that name the brand, as read
            pa.field("source_text", pa.string()),  # the whole line (or sentence) around them
            pa.field("similarity", pa.float64()),  # 1 - wrong letters / the name's letters
            pa.field("confidence", pa.float64()),  # the OCR's (or speech model's) for the line
            pa.field("mention_time", TIMESTAMP),  # wall clock: the frame (or first word)
            # Seconds it stands for: a text frame's, to the next frame read for text (or the
            # segment's end); a spoken name's, from its first word's start to its last's end.
            pa.field("duration_s", pa.float64()),
            # the frame read; for speech, the analysed frame on screen when it was said
            pa.field("frame_index", pa.int32()),
            *_BOX,  # the line's box; null for speech
            pa.field("model_name", pa.string()),
            pa.field("model_version", pa.string()),
            pa.field("analysed_at", TIMESTAMP),
            pa.field("mention_date", pa.date32()),
        ]
    ),
    partition_by=("mention_date",),
    doc="Brands named on screen (kind text: captions, lower thirds; a logo's own printed name "
    "is the logo's, not a mention) or said out loud (kind speech): one row per brand per "
    "frame read, or per spoken name.",
)

SILVER_TABLES = [DETECTIONS, SEGMENT_CONTEXT, TEXT_LINES, TRANSCRIPTS, BRAND_MENTIONS]

_MINUTE = pa.field("minute", TIMESTAMP)  # the minute's start, UTC
_CLIENT = [pa.field("viewer_id", pa.string()), pa.field("ip_hash", pa.string()),
           pa.field("network", pa.string())]  # fmt: skip
_RECEIVED = [
    pa.field("ingest_time", TIMESTAMP),
    pa.field("batch_id", pa.int64()),  # the exposure_revenue micro-batch that wrote the row
    # Older than the watermark when it arrived (allowed_lateness_s behind the newest event time
    # of its stream and topic): kept and counted here, left out of the gold tables.
    pa.field("late", pa.bool_()),
]
_BRAND_SEEN = pa.struct(
    [
        ("brand_id", pa.string()),
        ("confidence", pa.float64()),
        ("x1", pa.float64()),
        ("y1", pa.float64()),
        ("x2", pa.float64()),
        ("y2", pa.float64()),
        ("area_share", pa.float64()),
    ]
)

_MENTION_SEEN = pa.struct(
    [
        ("mention_id", pa.string()),
        ("brand_id", pa.string()),
        ("kind", pa.string()),  # text | speech
        ("mention_time", TIMESTAMP),
        ("duration_s", pa.float64()),
    ]
)

FRAME_BRANDS = TableSpec(
    name="silver.frame_brands",
    producer="brandlake run exposure-revenue",
    schema=pa.schema(
        [
            pa.field("frame_id", pa.string()),
            pa.field("stream_id", pa.string()),
            pa.field("segment_id", pa.string()),
            pa.field("frame_time", TIMESTAMP),
            pa.field("interval_s", pa.float64()),  # seconds of video the frame stands for
            pa.field("refined", pa.bool_()),  # a boundary frame: brands only, no scene/safety
            pa.field("scene_label", pa.string()),
            pa.field("safety_score", pa.float64()),
            pa.field("person_count", pa.int32()),
            *_RECEIVED,
            pa.field("frame_date", pa.date32()),
            pa.field("brands", pa.list_(_BRAND_SEEN)),  # nested last: no statistics
            # brands named in the frame's text, or said while it was on screen
            pa.field("mentions", pa.list_(_MENTION_SEEN)),
        ]
    ),
    partition_by=("frame_date",),
    doc="Analysed frames as exposure_revenue received them from the detections topic; a frame "
    "a retried frame_analysis task sent twice appears twice (gold drops repeats by frame_id).",
    added_columns=("mentions",),
)

IMPRESSION_LOG = TableSpec(
    name="silver.impressions",
    producer="brandlake run exposure-revenue",
    schema=pa.schema(
        [
            pa.field("event_id", pa.string()),
            pa.field("event_time", TIMESTAMP),
            pa.field("stream_id", pa.string()),
            pa.field("campaign_id", pa.string()),
            pa.field("brand_id", pa.string()),
            pa.field("clearing_cpm", pa.float64()),
            *_RECEIVED,
            pa.field("event_date", pa.date32()),
            *_CLIENT,
        ]
    ),
    partition_by=("event_date",),
    doc="Valid ad impressions as exposure_revenue received them, for joins and revenue.",
    added_columns=tuple(f.name for f in _CLIENT),
)

CLICKS = TableSpec(
    name="silver.clicks",
    producer="brandlake run exposure-revenue",
    schema=pa.schema(
        [
            pa.field("event_id", pa.string()),
            pa.field("event_time", TIMESTAMP),
            pa.field("stream_id", pa.string()),
            pa.field("campaign_id", pa.string()),
            *_RECEIVED,
            pa.field("event_date", pa.date32()),
            pa.field("viewer_id", pa.string()),
            pa.field("impression_id", pa.string()),
            pa.field("network", pa.string()),
        ]
    ),
    partition_by=("event_date",),
    doc="Viewer clicks on ads (viewer_events with event_type click), for CTR.",
    added_columns=("viewer_id", "impression_id", "network"),
)

PLAYER_EVENTS = TableSpec(
    name="silver.player_events",
    producer="brandlake run exposure-revenue",
    schema=pa.schema(
        [
            pa.field("event_id", pa.string()),
            pa.field("event_time", TIMESTAMP),
            pa.field("stream_id", pa.string()),
            pa.field("viewer_id", pa.string()),
            pa.field("session_id", pa.string()),
            pa.field("event_type", pa.string()),
            pa.field("position_s", pa.float64()),
            pa.field("bitrate_kbps", pa.int32()),
            pa.field("startup_ms", pa.int32()),
            pa.field("rebuffer_ms", pa.int32()),
            pa.field("error_code", pa.string()),
            pa.field("device", pa.string()),
            pa.field("geo", pa.string()),
            pa.field("cdn", pa.string()),
            pa.field("ip_hash", pa.string()),
            pa.field("network", pa.string()),
            *_RECEIVED,
            pa.field("event_date", pa.date32()),
            pa.field("impression_id", pa.string()),  # on ad_complete
        ]
    ),
    partition_by=("event_date",),
    doc="Players' beacons (viewer_events other than clicks), for audience, QoE and ad completion.",
    added_columns=("impression_id",),
)

BRAND_EXPOSURE_MINUTE = TableSpec(
    name="gold.brand_exposure_minute",
    producer="brandlake run exposure-revenue",
    schema=pa.schema(
        [
            pa.field("stream_id", pa.string()),
            pa.field("brand_id", pa.string()),
            _MINUTE,
            pa.field("screen_seconds", pa.float64()),
            pa.field("appearances", pa.int32()),  # appearances that start in the minute
            pa.field("frames", pa.int32()),  # analysed frames showing the brand
            pa.field("mean_size_share", pa.float64()),
            pa.field("max_size_share", pa.float64()),
            pa.field("position_weight", pa.float64()),  # 1 centre .. 0 corner
            pa.field("clarity", pa.float64()),  # mean detector confidence
            pa.field("clutter", pa.float64()),  # mean other brands in the same frame
            pa.field("share_of_voice", pa.float64()),
            pa.field("quality_index", pa.float64()),
            pa.field("media_value", pa.float64()),
            pa.field("rate_per_second", pa.float64()),  # the rate card's, when first priced
            pa.field("currency", pa.string()),
            pa.field("updated_at", TIMESTAMP),
            pa.field("viewer_seconds", pa.float64()),  # screen time x viewers watching then
            pa.field("exposure_impressions", pa.int64()),  # viewers who saw min_view_seconds
        ]
    ),
    doc="Per stream, brand and minute: how long, how big, where and how clearly the brand was "
    "on screen, to how many viewers, and what that was worth (formulas in jobs/exposure/metrics.py "
    "and jobs/audience/metrics.py).",
    added_columns=("viewer_seconds", "exposure_impressions"),
)

IMPRESSION_CONTEXT = TableSpec(
    name="gold.impression_context",
    producer="brandlake run exposure-revenue",
    schema=pa.schema(
        [
            pa.field("event_id", pa.string()),
            pa.field("event_time", TIMESTAMP),
            pa.field("stream_id", pa.string()),
            _MINUTE,
            pa.field("campaign_id", pa.string()),
            pa.field("brand_id", pa.string()),
            pa.field("clearing_cpm", pa.float64()),
            pa.field("frame_id", pa.string()),  # the frame on screen; null when none was near
            pa.field("frame_time", TIMESTAMP),
            pa.field("brands_on_screen", pa.list_(pa.string())),
            pa.field("own_brand_on_screen", pa.bool_()),
            pa.field("scene_label", pa.string()),
            pa.field("safety_score", pa.float64()),
            pa.field("updated_at", TIMESTAMP),
            pa.field("viewer_id", pa.string()),
            pa.field("invalid_reason", pa.string()),  # invalid traffic: left out of revenue
        ]
    ),
    doc="Each ad impression with what was on screen when it was served: the latest analysed "
    "frame of its stream at or before the impression, at most exposure.frame_max_age_s older; "
    "invalid traffic keeps its row with the reason (jobs/audience/ivt.py).",
    added_columns=("viewer_id", "invalid_reason"),
)

REVENUE_MINUTE = TableSpec(
    name="gold.revenue_minute",
    producer="brandlake run exposure-revenue",
    schema=pa.schema(
        [
            pa.field("stream_id", pa.string()),
            pa.field("campaign_id", pa.string()),
            _MINUTE,
            pa.field("impressions", pa.int64()),
            pa.field("revenue", pa.float64()),  # sum(clearing_cpm) / 1000
            pa.field("ecpm", pa.float64()),
            pa.field("clicks", pa.int64()),
            pa.field("ctr", pa.float64()),
            pa.field("revenue_brand_on_screen", pa.float64()),  # served while its brand showed
            pa.field("updated_at", TIMESTAMP),
            pa.field("invalid_impressions", pa.int64()),  # invalid traffic, not counted above
            pa.field("invalid_revenue", pa.float64()),  # what billing them would have overstated
        ]
    ),
    added_columns=("invalid_impressions", "invalid_revenue"),
    doc="Per stream, campaign and minute: impressions, revenue, eCPM, clicks, CTR, and the "
    "revenue of impressions served while the campaign's own brand was on screen; invalid "
    "traffic is left out of all of them and counted apart.",
)

AUDIENCE_MINUTE = TableSpec(
    name="gold.audience_minute",
    producer="brandlake run exposure-revenue",
    schema=pa.schema(
        [
            pa.field("stream_id", pa.string()),
            _MINUTE,
            pa.field("avg_concurrent_viewers", pa.float64()),  # watched seconds / 60
            pa.field("peak_concurrent_viewers", pa.int64()),
            pa.field("unique_viewers", pa.int64()),
            pa.field("viewer_seconds", pa.float64()),
            pa.field("sessions_attempted", pa.int64()),  # session_start beacons
            pa.field("sessions_started", pa.int64()),  # first frames shown
            pa.field("sessions_ended", pa.int64()),  # end or error beacon, or timed out
            pa.field("avg_view_duration_s", pa.float64()),  # of those ended after a first frame
            pa.field("invalid_viewers", pa.int64()),  # invalid traffic, left out of the above
            pa.field("updated_at", TIMESTAMP),
        ]
    ),
    doc="Per stream and minute: concurrent viewers (mean and peak), unique viewers, sessions "
    "and view duration, from the players' beacons (jobs/audience/metrics.py).",
)

QOE_MINUTE = TableSpec(
    name="gold.qoe_minute",
    producer="brandlake run exposure-revenue",
    schema=pa.schema(
        [
            pa.field("stream_id", pa.string()),
            _MINUTE,
            pa.field("device", pa.string()),
            pa.field("geo", pa.string()),
            pa.field("cdn", pa.string()),
            pa.field("sessions", pa.int64()),  # that sent a beacon or watched in the minute
            pa.field("attempts", pa.int64()),
            pa.field("startup_p50_ms", pa.float64()),
            pa.field("startup_p95_ms", pa.float64()),
            pa.field("watched_seconds", pa.float64()),
            pa.field("rebuffer_seconds", pa.float64()),
            pa.field("rebuffer_ratio", pa.float64()),  # stalled / (stalled + watched)
            pa.field("mean_bitrate_kbps", pa.float64()),  # over watched seconds
            pa.field("errors", pa.int64()),
            pa.field("error_rate", pa.float64()),  # errors / sessions
            pa.field("abandoned", pa.int64()),  # ended before their first frame
            pa.field("abandonment_rate", pa.float64()),  # abandoned / attempts
            pa.field("updated_at", TIMESTAMP),
        ]
    ),
    doc="Per stream, minute, device, geo and CDN: what viewers experienced (startup time, "
    "rebuffering, bitrate, errors, abandonment), from the players' beacons.",
)

BRAND_MENTIONS_MINUTE = TableSpec(
    name="gold.brand_mentions_minute",
    producer="brandlake run exposure-revenue",
    schema=pa.schema(
        [
            pa.field("stream_id", pa.string()),
            pa.field("brand_id", pa.string()),
            _MINUTE,
            pa.field("text_mentions", pa.int32()),  # on-screen namings that start in the minute
            pa.field("text_seconds", pa.float64()),  # seconds the name was on screen as text
            pa.field("speech_mentions", pa.int32()),  # times the name was said
            pa.field("speech_seconds", pa.float64()),  # seconds it took to say them
            pa.field("media_value", pa.float64()),  # rate_card.mentions, beside screen time's
            pa.field("currency", pa.string()),
            pa.field("updated_at", TIMESTAMP),
        ]
    ),
    doc="Per stream, brand and minute: how often and how long the brand was named in on-screen "
    "text (captions, lower thirds; not its logo's own printed name) and out loud, and what that "
    "was worth (jobs/exposure/mentions.py).",
)

GOLD_TABLES = [
    BRAND_EXPOSURE_MINUTE,
    IMPRESSION_CONTEXT,
    REVENUE_MINUTE,
    AUDIENCE_MINUTE,
    QOE_MINUTE,
    BRAND_MENTIONS_MINUTE,
]

DATA_QUALITY_RESULTS = TableSpec(
    name="ops.data_quality_results",
    producer="brandlake quality",
    schema=pa.schema(
        [
            pa.field("run_id", pa.string()),
            pa.field("run_time", TIMESTAMP),
            pa.field("suite", pa.string()),  # the table, or the table and a rule over its rows
            pa.field("table_name", pa.string()),
            pa.field("expectation", pa.string()),  # GX expectation type
            pa.field("column_name", pa.string()),  # null for table-level expectations
            pa.field("severity", pa.string()),  # critical | warning | info
            pa.field("success", pa.bool_()),
            pa.field("observed_value", pa.string()),
            pa.field("unexpected_count", pa.int64()),
            pa.field("checked_rows", pa.int64()),
            pa.field("sample", pa.string()),  # JSON: a few bad rows, identified by their keys
            pa.field("error", pa.string()),  # why the expectation could not run (a missing column)
            pa.field("run_date", pa.date32()),
        ]
    ),
    partition_by=("run_date",),
    doc="Every expectation of every data_quality run: what was checked, whether it held, the "
    "observed value and a sample of the rows that broke it.",
)

TABLE_STATS = TableSpec(
    name="ops.table_stats",
    producer="brandlake maintenance",
    schema=pa.schema(
        [
            pa.field("run_time", TIMESTAMP),
            pa.field("table_name", pa.string()),
            pa.field("version", pa.int64()),
            pa.field("files", pa.int64()),
            pa.field("bytes", pa.int64()),
            pa.field("rows", pa.int64()),
            pa.field("files_compacted", pa.int64()),  # files rewritten into fewer this run
            pa.field("files_vacuumed", pa.int64()),  # unreferenced files deleted this run
            pa.field("run_date", pa.date32()),
        ]
    ),
    partition_by=("run_date",),
    doc="Each table's size and file count after each lakehouse_maintenance run.",
)

STREAM_CONTROL = TableSpec(
    name="ops.stream_control",
    producer="brandlake streams",
    schema=pa.schema(
        [
            pa.field("stream_id", pa.string()),
            pa.field("action", pa.string()),  # mode, start, stop, ended
            # the mode set, a start's source (JSON), why an ingest ended
            pa.field("value", pa.string()),
            # segments that start at or after this are analysed in the new mode
            pa.field("effective_from", TIMESTAMP),
            pa.field("requested_by", pa.string()),
            pa.field("requested_at", TIMESTAMP),
            pa.field("request_date", pa.date32()),
        ]
    ),
    partition_by=("request_date",),
    doc="Every operator's control action on a stream (who, what, when): the processing modes "
    "frame_analysis applies, by segment start time, so a replay analyses a segment alike; the "
    "ingest starts and stops `brandlake streams supervise` applies, and how each ingest ended.",
)

RENDITIONS = TableSpec(
    name="ops.renditions",
    producer="brandlake run privacy-rendition",
    schema=pa.schema(
        [
            pa.field("rendition_id", pa.string()),  # <source segment's event_id>-<rendition>
            pa.field("stream_id", pa.string()),
            pa.field("sequence", pa.int64()),
            pa.field("rendition", pa.string()),  # blurred: every face blurred
            pa.field("source_uri", pa.string()),
            pa.field("uri", pa.string()),  # the rendered segment
            pa.field("start_time", TIMESTAMP),  # the source segment's
            pa.field("duration_s", pa.float64()),
            pa.field("width", pa.int32()),
            pa.field("height", pa.int32()),
            pa.field("fps", pa.float64()),
            pa.field("bytes", pa.int64()),
            pa.field("frames", pa.int32()),
            pa.field("faces", pa.int32()),  # face boxes found in the frames looked at
            pa.field("frames_looked", pa.int32()),
            pa.field("rendered_at", TIMESTAMP),
            pa.field("render_date", pa.date32()),
        ]
    ),
    partition_by=("render_date",),
    doc="Every segment of a stream's other renditions (the privacy rendition, faces blurred): "
    "where it is and what was found; its playlist is made from these rows.",
)

OPS_TABLES = [DATA_QUALITY_RESULTS, TABLE_STATS, STREAM_CONTROL, RENDITIONS]

FLOOR_RULES = TableSpec(
    name="gold.floor_rules",
    producer="brandlake yield",
    schema=pa.schema(
        [
            pa.field("version", pa.string()),  # the rule set's
            pa.field("rule_id", pa.string()),
            pa.field("dimensions", pa.string()),  # comma-separated, the order of `match`
            pa.field("match", pa.string()),  # JSON list: a value per dimension, or *
            pa.field("floor_cpm", pa.float64()),
            pa.field("train_auctions", pa.int64()),  # the segment's auctions it was learnt from
            pa.field("method", pa.string()),
            pa.field("published", pa.bool_()),  # false: the replay kept the rules in force
            pa.field("decision", pa.string()),  # why it was published or not
            pa.field("valid_from", TIMESTAMP),
            pa.field("created_at", TIMESTAMP),
        ]
    ),
    doc="Every floor rule set the yield_optimization batch learnt, one row per rule; the "
    "published ones are what the ad server applied from valid_from on (Redis brandlake:floors).",
)

FLOOR_REPLAY = TableSpec(
    name="gold.floor_replay",
    producer="brandlake yield",
    schema=pa.schema(
        [
            pa.field("version", pa.string()),  # the learnt rule set's
            pa.field("method", pa.string()),  # learnt, static, current, quantile, myerson, ...
            pa.field("name", pa.string()),
            pa.field("auctions", pa.int64()),
            pa.field("fill_rate", pa.float64()),
            pa.field("revenue_per_1000", pa.float64()),
            pa.field("created_at", TIMESTAMP),
        ]
    ),
    doc="The counterfactual replay behind each rule set: every method's fill rate and revenue "
    "per 1000 auctions on the same held-out window of logged auctions.",
)

YIELD_EXPERIMENT = TableSpec(
    name="gold.yield_experiment",
    producer="brandlake yield",
    schema=pa.schema(
        [
            pa.field("hour", TIMESTAMP),
            pa.field("arm", pa.string()),  # treatment | holdout
            pa.field("auctions", pa.int64()),
            pa.field("fills", pa.int64()),
            pa.field("fill_rate", pa.float64()),
            pa.field("revenue", pa.float64()),
            pa.field("revenue_per_1000", pa.float64()),  # per 1000 auctions
            pa.field("ecpm", pa.float64()),
            pa.field("floor_versions", pa.string()),  # rule sets in force in the hour
            pa.field("uplift", pa.float64()),  # treatment rows: revenue per 1000, vs holdout
            pa.field("uplift_low", pa.float64()),  # its 95 % bootstrap interval
            pa.field("uplift_high", pa.float64()),
            pa.field("fill_rate_delta", pa.float64()),  # treatment - holdout
            pa.field("updated_at", TIMESTAMP),
        ]
    ),
    doc="The yield experiment per hour and arm: published floors (treatment) against the "
    "static ones (holdout), with the uplift's bootstrap interval (jobs/floors/experiment.py).",
)

CTR_MODEL_EVALUATION = TableSpec(
    name="gold.ctr_model_evaluation",
    producer="brandlake train ctr-model",
    schema=pa.schema(
        [
            pa.field("version", pa.string()),  # the registered ctr-model version trained
            pa.field("scored", pa.string()),  # candidate | baseline | champion | truth
            pa.field("metric", pa.string()),  # auc, log_loss, calibration_slot_<slot>, ...
            pa.field("value", pa.float64()),
            pa.field("promoted", pa.bool_()),
            pa.field("created_at", TIMESTAMP),
        ]
    ),
    doc="Every CTR model training: each model's figures on the same time-ordered test split, "
    "next to those of the simulator's true click probabilities.",
)

YIELD_TABLES = [FLOOR_RULES, FLOOR_REPLAY, YIELD_EXPERIMENT, CTR_MODEL_EVALUATION]
# Written whole by batch jobs (no stream owns their files): maintenance compacts all of them.
BATCH_TABLES = [*OPS_TABLES, *YIELD_TABLES]
