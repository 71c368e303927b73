"""exposure_revenue: analysed frames x ad impressions -> brand exposure and revenue, per minute.

    brandlake run exposure-revenue [--available-now]

Reads the `detections` topic (one message per analysed frame, from frame_analysis),
`impressions` and `viewer_events` (clicks, and the players' beacons), in event time. Each
micro-batch:

1. extract -> transform -> load of the inputs: valid records become rows of `silver.frame_brands`,
   `silver.impressions`, `silver.clicks` and `silver.player_events` (malformed ones go to
   `bronze.quarantine` with the reason). A record older than its stream's watermark (the newest
   event time of that stream and topic so far minus `exposure.allowed_lateness_s`) is kept with
   `late = true` and counted, and left out of gold. Exactly once per batch (Delta app transactions).
2. The gold minutes the batch touched are recomputed from silver (`jobs/exposure/`,
   `jobs/audience/`): the `gold.brand_exposure_minute` (with its audience),
   `gold.impression_context`, `gold.revenue_minute`, `gold.audience_minute`, `gold.qoe_minute`
   and `gold.brand_mentions_minute` (brands named on screen or out loud,
   `jobs/exposure/mentions.py`) rows of those streams and minutes are replaced in one commit
   per table, at most once per batch.
   Invalid traffic is left out by the rules and the champion `ivt-model` the job found at start
   (`jobs/audience/ivt.py`, `jobs/audience/anomaly.py`; `brandlake train ivt-model` makes one).
   Recomputing from silver makes a replayed batch produce identical gold rows, and lets
   late-arriving frames (video analysis runs behind the ad server) complete the context of
   impressions already seen.
3. Live aggregates go to Redis (`jobs/common/live_state.py`), set from gold, so a replay
   rewrites the same values.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from jobs.audience.anomaly import AnomalyModel, load_champion
from jobs.audience.ivt import invalid_viewers
from jobs.audience.metrics import (
    PLAYER_COLUMNS,
    audience_exposure,
    audience_minutes,
    beacons,
    qoe_minutes,
    viewing,
)
from jobs.common.config import RateCard, Settings
from jobs.common.delta_sink import DeltaSink, WriteResult
from jobs.common.lake import OpenTables
from jobs.common.live_state import redis_url, set_live_exposure
from jobs.common.quarantine import sort_records
from jobs.common.spark import read_kafka_stream
from jobs.common.streaming import BatchClock, run_job, start_query
from jobs.exposure.mentions import Mention, brand_mention_minutes
from jobs.exposure.metrics import (
    BrandSeen,
    Frame,
    brand_exposure_minutes,
    minute_of,
    rate_per_second,
)
from jobs.exposure.revenue import impression_context, revenue_minutes
from schemas.events import IMPRESSIONS, VIEWER_EVENTS
from schemas.tables import (
    AUDIENCE_MINUTE,
    BRAND_EXPOSURE_MINUTE,
    BRAND_MENTIONS_MINUTE,
    CLICKS,
    FRAME_BRANDS,
    GOLD_TABLES,
    IMPRESSION_CONTEXT,
    IMPRESSION_LOG,
    PLAYER_EVENTS,
    QOE_MINUTE,
    QUARANTINE,
    REVENUE_MINUTE,
)

log = logging.getLogger("brandlake.exposure_revenue")

TOPICS = ["detections", "impressions", "viewer_events"]
# Where each kind of input lands (viewer events split into clicks and players' beacons)
INPUT_TABLES = {
    "detections": FRAME_BRANDS,
    "impressions": IMPRESSION_LOG,
    "clicks": CLICKS,
    "player_events": PLAYER_EVENTS,
}
TIME_COLUMN = {key: "frame_time" if key == "detections" else "event_time" for key in INPUT_TABLES}


# -- inputs ----------------------------------------------------------------------------------


def parse_frame_message(value: bytes | None) -> tuple[dict | None, list[str]]:
    """A `detections` message (see jobs/frame_analysis.py) as a row, or why it is not one."""
    try:
        message = json.loads(value or b"")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, ["frame message is not JSON"]
    if not isinstance(message, dict):
        return None, ["frame message is not a JSON object"]
    why = [f"{k}: missing" for k in ("frame_id", "stream_id", "frame_time") if not message.get(k)]
    try:
        frame_time = datetime.fromisoformat(message.get("frame_time") or "")
    except ValueError:
        frame_time = None
        why.append("frame_time: not an ISO 8601 time")
    if frame_time is not None and frame_time.tzinfo is None:
        why.append("frame_time: no time zone")
    interval = message.get("interval_s")
    if not isinstance(interval, int | float) or isinstance(interval, bool) or interval < 0:
        why.append("interval_s: missing or not a number of seconds >= 0")
    brands = []
    for brand in message.get("brands") or []:
        try:
            x1, y1, x2, y2 = (float(v) for v in brand["box"])
            brands.append(
                {
                    "brand_id": str(brand["brand_id"]),
                    "confidence": float(brand["confidence"]),
                    "x1": x1, "y1": y1, "x2": x2, "y2": y2,
                    "area_share": float(brand["area_share"]),
                }
            )  # fmt: skip
        except (KeyError, TypeError, ValueError):
            why.append(f"brands: malformed entry {json.dumps(brand)[:200]}")
    mentions = []
    for mention in message.get("mentions") or []:  # absent in frame_analysis before text
        try:
            mentions.append(
                {
                    "mention_id": str(mention["mention_id"]),
                    "brand_id": str(mention["brand_id"]),
                    "kind": str(mention["kind"]),
                    "mention_time": _aware(datetime.fromisoformat(mention["mention_time"])),
                    "duration_s": float(mention["duration_s"]),
                }
            )
        except (KeyError, TypeError, ValueError):
            why.append(f"mentions: malformed entry {json.dumps(mention)[:200]}")
    if why:
        return None, why
    return {
        "frame_id": message["frame_id"],
        "stream_id": message["stream_id"],
        "segment_id": message.get("segment_id"),
        "frame_time": frame_time.astimezone(UTC),
        "interval_s": float(interval),
        "refined": bool(message.get("refined")),
        "scene_label": message.get("scene_label"),
        "safety_score": message.get("safety_score"),
        "person_count": message.get("person_count"),
        "brands": brands,
        "mentions": mentions,
    }, []


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    return moment.astimezone(UTC)


Parsed = tuple[str, dict | None, list[str]]  # (input table key, row, why it is bad)


def _frame(value: bytes | None) -> Parsed:
    return ("detections", *parse_frame_message(value))


def _impression(value: bytes | None) -> Parsed:
    return ("impressions", *IMPRESSIONS.parse(value))


def _viewer_event(value: bytes | None) -> Parsed:
    """A click (for CTR) or a player's beacon (for audience and QoE)."""
    event, why = VIEWER_EVENTS.parse(value)
    if event is None or event["event_type"] != "click":
        return "player_events", event, why
    if not event.get("campaign_id"):
        return "clicks", None, ["campaign_id: missing on a click"]
    return "clicks", event, why


PARSERS = {"detections": _frame, "impressions": _impression, "viewer_events": _viewer_event}


@dataclass(frozen=True)
class SplitInputs:
    """Kafka records (one Arrow batch) -> rows of the silver input tables and the quarantine.

    `watermarks` maps (topic key, stream) to the time before which a record is late.
    """

    topics: dict[str, str]  # Kafka topic name -> topic key
    watermarks: dict[tuple[str, str], datetime]
    ingest_time: datetime
    batch_id: int

    def __call__(self, batch: pa.RecordBatch) -> dict[str, pa.Table]:
        records = sort_records(batch, self._parse, self.ingest_time)
        out = {
            table.name: pa.Table.from_pylist(
                [{c: r.get(c) for c in table.columns} for r in records.parsed(key)],
                schema=table.schema,
            )
            for key, table in INPUT_TABLES.items()
        }
        return {**out, QUARANTINE.name: records.quarantine}

    def _parse(self, topic: str, value: bytes | None) -> tuple[str | None, dict | None, list]:
        topic_key = self.topics.get(topic)
        if topic_key is None:
            return None, None, [f"not an input topic: {topic}"]
        key, row, why = PARSERS[topic_key](value)
        return key, None if row is None else self._received(key, row), why

    def _received(self, key: str, row: dict) -> dict:
        at = row[TIME_COLUMN[key]]
        watermark = self.watermarks.get((key, row["stream_id"]))
        return {
            **row,
            "ingest_time": self.ingest_time,
            "batch_id": self.batch_id,
            "late": watermark is not None and at < watermark,
            "frame_date" if key == "detections" else "event_date": at.date(),
        }


class Watermarks:
    """Per topic and stream, the newest event time in silver; a record more than
    `allowed_lateness_s` older than it is late.

    Read from silver once when the job starts, then advanced from each batch's rows, so no batch
    rereads the tables' history. A batch replayed after a restart sees the same watermarks as
    before: its rows were never committed, or its silver commit is skipped.
    """

    def __init__(self, lateness_s: float) -> None:
        self.lateness = timedelta(seconds=lateness_s)
        self.newest: dict[tuple[str, str], datetime] = {}

    @classmethod
    def from_silver(cls, tables: OpenTables, lateness_s: float) -> Watermarks:
        marks = cls(lateness_s)
        for key, table in INPUT_TABLES.items():
            times = tables.read(table.name, ["stream_id", TIME_COLUMN[key]])
            if times is None or times.num_rows == 0:
                continue
            newest = times.group_by("stream_id").aggregate([(TIME_COLUMN[key], "max")])
            marks.advance(key, newest.column(0).to_pylist(), newest.column(1).to_pylist())
        return marks

    def advance(self, key: str, streams: list[str], times: list[datetime]) -> None:
        for stream, at in zip(streams, times, strict=True):
            known = self.newest.get((key, stream))
            if known is None or at > known:
                self.newest[(key, stream)] = at

    def late_before(self) -> dict[tuple[str, str], datetime]:
        return {where: at - self.lateness for where, at in self.newest.items()}


# -- gold ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoldRows:
    exposure: list[dict]
    contexts: list[dict]
    revenue: list[dict]
    audience: list[dict]
    qoe: list[dict]
    mentions: list[dict]
    ranges: dict[str, tuple[datetime, datetime]]  # stream -> (first, last) minute recomputed


BatchTimes = dict[str, pa.Table]  # topic key -> the batch's (stream_id, event time) rows


def batch_times(tables: OpenTables, batch_id: int) -> BatchTimes:
    """The stream and event time of every silver input row the batch wrote (file statistics
    on `batch_id` keep this to the batch's own files)."""
    found = {}
    for key, table in INPUT_TABLES.items():
        rows = tables.read(table.name, ["stream_id", TIME_COLUMN[key]],
                           ds.field("batch_id") == batch_id)  # fmt: skip
        if rows is not None and rows.num_rows:
            found[key] = rows
    return found


def touched_minutes(settings: Settings, times: BatchTimes) -> dict[str, tuple[datetime, datetime]]:
    """Per stream, the first and last minute whose gold rows the batch's rows can change.

    A frame can join appearances on either side of it (a bridged gap: one sampling step plus
    the gap tolerance) and becomes the context of impressions up to `frame_max_age_s` after it.
    (An appearance's duration also feeds the quality of the minute it started in; a frame that
    arrives out of order and joins two long runs leaves that term stale in an earlier minute
    until the minute is recomputed again.)

    A player's beacon decides whether its session watched up to `audience.session_timeout_s`
    either side of it, and whether a session that went quiet before it has ended (twice that
    back: the first beacon of the stream past a quiet session's timeout closes it).
    """
    conf = settings.exposure
    back = timedelta(seconds=conf.max_frame_interval_s + conf.gap_tolerance_s)
    ahead = max(back, timedelta(seconds=conf.frame_max_age_s))
    timeout = timedelta(seconds=settings.audience.session_timeout_s)
    reach = {
        "detections": (back, ahead),
        "player_events": (2 * timeout, timeout),
        # invalid traffic: a minute is judged on its rows and those within the timeout of it
        # (the learnt score's window; the no-player check's beacons; a click's impression)
        "impressions": (timeout, timeout),
        "clicks": (timeout, timeout),
    }
    ranges: dict[str, tuple[datetime, datetime]] = {}
    for key, rows in times.items():
        before, after = reach.get(key, (timedelta(0), timedelta(0)))
        for stream, at in zip(rows.column(0).to_pylist(), rows.column(1).to_pylist(), strict=True):
            first, last = minute_of(at - before), minute_of(at + after)
            low, high = ranges.get(stream, (first, last))
            ranges[stream] = (min(low, first), max(high, last))
    return ranges


def _between(column: str, stream: str, start: datetime, end: datetime):
    field = ds.field(column)
    return (ds.field("stream_id") == stream) & (field >= start) & (field < end) & ~ds.field("late")


def recompute(
    tables: OpenTables,
    ranges: dict[str, tuple[datetime, datetime]],
    reprice: bool = False,
    ivt_model: AnomalyModel | None = None,
) -> GoldRows:
    """The gold rows of the given streams and minutes, from silver. Minutes already in gold
    keep the rate they were priced at, unless `reprice` (a backfill after a rate card change);
    invalid traffic by the rules and, when given, the learnt `ivt_model`."""
    gold = GoldRows([], [], [], [], [], [], ranges)
    clicks_seen, invalid = [], {}
    for stream, (first, last) in sorted(ranges.items()):
        exposure, contexts, clicks, audience, qoe, mentions, flags = _stream_gold(
            tables, stream, first, last, reprice, ivt_model
        )
        gold.exposure.extend(exposure)
        gold.mentions.extend(mentions)
        gold.contexts.extend(contexts)
        gold.audience.extend(audience)
        gold.qoe.extend(qoe)
        clicks_seen += clicks
        invalid.update(flags)
    gold.revenue.extend(revenue_minutes(gold.contexts, clicks_seen, invalid))
    return gold


def _stream_gold(
    tables: OpenTables,
    stream: str,
    first: datetime,
    last: datetime,
    reprice: bool,
    ivt_model: AnomalyModel | None,
) -> tuple[list, list, list, list, list, list, dict]:
    """One stream's gold rows for minutes [first, last], the clicks in them and the invalid
    traffic flags (from silver rows within the reach of those minutes)."""
    settings = tables.settings
    conf = settings.exposure
    timeout = settings.audience.session_timeout_s
    end = last + timedelta(minutes=1)
    margin = timedelta(seconds=timeout)
    history = first - timedelta(minutes=conf.lookback_minutes)
    ahead = end + timedelta(seconds=conf.max_frame_interval_s + conf.gap_tolerance_s)
    frames, frame_ids, named = _frames(tables, _between("frame_time", stream, history, ahead))
    reach = _between("event_time", stream, first - margin, end + margin)
    events = _beacons(tables, reach)
    near = _rows(tables, IMPRESSION_LOG, reach)
    clicks = _rows(tables, CLICKS, reach)
    flags = {
        (viewer, minute): why
        for (viewer, minute), why in invalid_viewers(
            near, clicks, events, settings.audience.invalid_traffic, timeout, ivt_model
        ).items()
        if first <= minute <= last
    }
    seen = viewing(events, timeout)
    minutes = _minutes(first, last)
    in_range = [f for f in frames if first <= minute_of(f.frame_time) <= last]
    seen_by = audience_exposure(in_range, seen.spans, conf.min_view_seconds, flags)
    rate = rate_per_second(settings.catalog.rate_card, stream)
    priced = {} if reprice else priced_minutes(tables, stream, first, last)
    exposure = [
        _with_audience(row, seen_by, settings.catalog.rate_card)
        for row in brand_exposure_minutes(frames, conf.gap_tolerance_s, conf.quality, rate, priced)
        if first <= row["minute"] <= last
    ]
    impressions = [r for r in near if first <= r["event_time"] < end]
    contexts = impression_context(impressions, frames, frame_ids, conf.frame_max_age_s, flags)
    return (
        exposure,
        contexts,
        [c for c in clicks if first <= c["event_time"] < end],
        audience_minutes(stream, seen, minutes, flags),
        qoe_minutes(stream, seen, minutes, flags),
        [
            row
            for row in brand_mention_minutes(
                named, conf.gap_tolerance_s, settings.catalog.rate_card
            )
            if first <= row["minute"] <= last
        ],
        flags,
    )


def _with_audience(
    row: dict, seen_by: dict[tuple[datetime, str], tuple[float, int]], card: RateCard
) -> dict:
    """An exposure row with its audience, priced per thousand exposure impressions when the
    rate card says so."""
    viewer_seconds, impressions = seen_by.get((row["minute"], row["brand_id"]), (0.0, 0))
    row = {**row, "viewer_seconds": viewer_seconds, "exposure_impressions": impressions}
    if card.pricing == "exposure_impressions":
        row["media_value"] = impressions / 1000 * card.exposure_cpm * row["quality_index"]
    return row


def _minutes(first: datetime, last: datetime) -> list[datetime]:
    count = int((last - first).total_seconds() // 60) + 1
    return [first + timedelta(minutes=i) for i in range(count)]


def priced_minutes(
    tables: OpenTables, stream: str, first: datetime, last: datetime
) -> dict[datetime, float]:
    """The rate each of the stream's minutes in [first, last] was priced at, where gold has it."""
    where = (ds.field("stream_id") == stream) & (ds.field("minute") >= first)
    rows = tables.read(BRAND_EXPOSURE_MINUTE.name, ["minute", "rate_per_second"],
                       where & (ds.field("minute") <= last))  # fmt: skip
    return dict(zip(*(rows.to_pydict().values()), strict=True)) if rows is not None else {}


def _rows(tables: OpenTables, table, where) -> list[dict]:
    found = tables.read(table.name, table.columns, where)
    rows = found.to_pylist() if found is not None else []
    unique = {row["event_id"]: row for row in rows}  # a record Kafka delivered twice counts once
    return sorted(unique.values(), key=lambda r: (r["event_time"], r["event_id"]))


def _beacons(tables: OpenTables, where) -> pd.DataFrame:
    found = tables.read(PLAYER_EVENTS.name, PLAYER_COLUMNS, where)
    return beacons(found.to_pandas() if found is not None else pd.DataFrame(columns=PLAYER_COLUMNS))


def _frames(tables: OpenTables, where) -> tuple[list[Frame], list[str], list[Mention]]:
    """The frames (each once, in time order), their ids, and the brand mentions they carry."""
    found = tables.read(FRAME_BRANDS.name, FRAME_BRANDS.columns, where)
    unique = {r["frame_id"]: r for r in (found.to_pylist() if found is not None else [])}
    ordered = sorted(unique.values(), key=lambda r: (r["frame_time"], r["frame_id"]))
    named = {
        m["mention_id"]: Mention(r["stream_id"], m["brand_id"], m["kind"], m["mention_time"],
                                 m["duration_s"])
        for r in ordered
        for m in r["mentions"] or []  # null: received before frames carried mentions
    }  # fmt: skip
    frames, scene, safety = [], None, None
    longest = tables.settings.exposure.max_frame_interval_s
    for r in ordered:
        # A boundary frame was analysed for brands only: it shows its sampled neighbour's
        # scene and safety to the impressions it gives context to.
        if not r["refined"]:
            scene, safety = r["scene_label"], r["safety_score"]
        interval = min(r["interval_s"], longest)
        seen = tuple(_brand_seen(b) for b in r["brands"])
        frames.append(Frame(r["stream_id"], r["frame_time"], interval, seen, scene, safety))
    return frames, [r["frame_id"] for r in ordered], list(named.values())


def _brand_seen(b: dict) -> BrandSeen:
    return BrandSeen(b["brand_id"], b["confidence"], (b["x1"], b["y1"], b["x2"], b["y2"]),
                     b["area_share"])  # fmt: skip


def replace_predicate(ranges: dict[str, tuple[datetime, datetime]]) -> str:
    """SQL predicate for the minutes of `ranges` (stream -> first, last minute)."""

    def literal(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("'%Y-%m-%dT%H:%M:%SZ'")

    return " OR ".join(
        f"(stream_id = '{stream.replace(chr(39), chr(39) * 2)}' AND minute >= {literal(first)} "
        f"AND minute <= {literal(last)})"
        for stream, (first, last) in sorted(ranges.items())
    )


def load_gold(sink: DeltaSink, gold: GoldRows, app_id: str, batch_id: int) -> list[WriteResult]:
    """Replace the recomputed minutes of each gold table, once per batch."""
    if not gold.ranges:
        return []
    now = datetime.now(UTC)
    extra = {BRAND_EXPOSURE_MINUTE.name: {"currency": sink.settings.catalog.rate_card.currency}}
    predicate = replace_predicate(gold.ranges)
    results = []
    for table, rows in (
        (BRAND_EXPOSURE_MINUTE, gold.exposure),
        (IMPRESSION_CONTEXT, gold.contexts),
        (REVENUE_MINUTE, gold.revenue),
        (AUDIENCE_MINUTE, gold.audience),
        (QOE_MINUTE, gold.qoe),
        (BRAND_MENTIONS_MINUTE, gold.mentions),
    ):
        stamped = [{**row, **extra.get(table.name, {}), "updated_at": now} for row in rows]
        data = pa.Table.from_pylist(stamped, schema=table.schema)
        results.append(sink.replace(table, data, predicate, app_id, batch_id))
    return results


# -- live aggregates -------------------------------------------------------------------------


def live_aggregates(
    tables: OpenTables, ranges: dict[str, tuple[datetime, datetime]], batch_id: int
) -> dict[str, dict]:
    """Per stream, from gold: screen seconds per brand over the `live_window_minutes` minutes
    up to its newest minute, revenue in its newest minute with revenue, and the audience of the
    newest settled minute. Only the minutes
    from the window before the last recomputed one are read (the newest is at or after it)."""
    window = timedelta(minutes=tables.settings.jobs.exposure_revenue.live_window_minutes - 1)
    out = {}
    for stream, (_, last) in ranges.items():
        recent = (ds.field("stream_id") == stream) & (ds.field("minute") >= last - window)
        exposure = tables.read(BRAND_EXPOSURE_MINUTE.name,
                               ["brand_id", "minute", "screen_seconds"], recent)  # fmt: skip
        revenue = tables.read(REVENUE_MINUTE.name, ["minute", "revenue"], recent)
        seconds: dict[str, float] = {}
        newest = None
        if exposure is not None and exposure.num_rows:
            newest = pc.max(exposure.column("minute")).as_py()
            for row in exposure.filter(pc.field("minute") >= newest - window).to_pylist():
                seconds[row["brand_id"]] = seconds.get(row["brand_id"], 0.0) + row["screen_seconds"]
        last_minute_revenue, revenue_minute = 0.0, None
        if revenue is not None and revenue.num_rows:
            revenue_minute = pc.max(revenue.column("minute")).as_py()
            in_minute = revenue.filter(pc.field("minute") == revenue_minute)
            last_minute_revenue = float(pc.sum(in_minute.column("revenue")).as_py() or 0.0)
        audience = tables.read(AUDIENCE_MINUTE.name, AUDIENCE_MINUTE.columns, recent)
        mentions, mentions_until = _recent_mentions(tables, recent, window)
        out[stream] = {
            "audience": _settled_minute(audience),
            "batch_id": batch_id,
            "screen_seconds": seconds,
            "exposure_until": newest,
            "revenue_last_minute": last_minute_revenue,
            "revenue_minute": revenue_minute,
            "mentions": mentions,
            "mentions_until": mentions_until,
        }
    return out


def _recent_mentions(
    tables: OpenTables, recent, window: timedelta
) -> tuple[dict[str, dict], datetime | None]:
    """Per brand, its mentions over the window up to the newest minute with any, and that
    minute."""
    columns = ["brand_id", "minute", "text_mentions", "text_seconds", "speech_mentions"]
    rows = tables.read(BRAND_MENTIONS_MINUTE.name, columns, recent)
    if rows is None or rows.num_rows == 0:
        return {}, None
    newest = pc.max(rows.column("minute")).as_py()
    totals: dict[str, dict] = {}
    for row in rows.filter(pc.field("minute") >= newest - window).to_pylist():
        total = totals.setdefault(
            row["brand_id"], {"text_mentions": 0, "text_seconds": 0.0, "speech_mentions": 0}
        )
        for name in total:
            total[name] += row[name]
    return totals, newest


def _settled_minute(audience: pa.Table | None) -> dict | None:
    """The newest audience row but one (the newest minute is still filling), or the only one."""
    if audience is None or audience.num_rows == 0:
        return None
    rows = sorted(audience.to_pylist(), key=lambda r: r["minute"])
    return rows[-2] if len(rows) > 1 else rows[-1]


# -- extract, transform, load ----------------------------------------------------------------


def extract(spark: SparkSession, settings: Settings) -> DataFrame:
    """Analysed frames, impressions and viewer events as one stream of Kafka records."""
    return read_kafka_stream(spark, settings, TOPICS)


def transform(
    settings: Settings, watermarks: Watermarks, batch_id: int, ingest_time: datetime
) -> SplitInputs:
    """How one batch of Kafka records becomes silver rows (late ones flagged)."""
    return SplitInputs(
        {settings.kafka.topics[k].name: k for k in TOPICS},
        watermarks.late_before(),
        ingest_time,
        batch_id,
    )


def load(
    records: DataFrame,
    split: SplitInputs,
    sink: DeltaSink,
    watermarks: Watermarks,
    app_id: str,
    batch_id: int,
    clock: BatchClock | None = None,
    ivt_model: AnomalyModel | None = None,
) -> list[WriteResult]:
    """Every write of a batch, in order: silver, then the gold minutes it touched, then Redis
    from gold. Each Delta write happens once per batch; Redis is set, never added to."""
    clock = clock or BatchClock()
    results = commit_silver(records, split, sink, app_id, batch_id, clock)
    with clock.phase("recompute"):
        times = batch_times(sink.tables, batch_id)
        advance_watermarks(watermarks, times)
        gold = recompute(sink.tables, touched_minutes(sink.settings, times), ivt_model=ivt_model)
    with clock.phase("gold"):
        results += load_gold(sink, gold, app_id, batch_id)
    with clock.phase("redis"):
        publish_live_aggregates(sink, gold.ranges, batch_id)
    return results


def commit_silver(
    records: DataFrame,
    split: SplitInputs,
    sink: DeltaSink,
    app_id: str,
    batch_id: int,
    clock: BatchClock | None = None,
) -> list[WriteResult]:
    """The batch's records as silver rows and quarantine rows: one pass, one commit per table."""
    tables = [*INPUT_TABLES.values(), QUARANTINE]
    return sink.write_split(records, tables, split, app_id, batch_id, clock)


def advance_watermarks(watermarks: Watermarks, times: BatchTimes) -> None:
    """Move each stream's watermarks past the event times the batch committed."""
    for key, rows in times.items():
        watermarks.advance(key, rows.column(0).to_pylist(), rows.column(1).to_pylist())


def publish_live_aggregates(
    sink: DeltaSink, ranges: dict[str, tuple[datetime, datetime]], batch_id: int
) -> None:
    """Each touched stream's rolling exposure and last-minute revenue, from gold, to Redis."""
    settings = sink.settings
    url, ttl = redis_url(settings), settings.jobs.exposure_revenue.redis_ttl_s
    for stream, live in live_aggregates(sink.tables, ranges, batch_id).items():
        set_live_exposure(url, stream, live, ttl)


def start(settings: Settings, spark: SparkSession, available_now: bool = False) -> StreamingQuery:
    """The running query: extract -> transform -> load, one micro-batch at a time."""
    records = extract(spark, settings)
    sink = DeltaSink(settings)
    watermarks = Watermarks.from_silver(sink.tables, settings.exposure.allowed_lateness_s)
    ivt_model = load_champion(settings)  # kept for the run: a new champion from the next start

    def handle(batch: DataFrame, batch_id: int, query_id: str, clock: BatchClock) -> list:
        split = transform(settings, watermarks, batch_id, datetime.now(UTC))
        results = load(batch, split, sink, watermarks, query_id, batch_id, clock, ivt_model)
        sink.compact([*INPUT_TABLES.values(), *GOLD_TABLES], batch_id, clock)
        return results

    return start_query(records, settings, settings.jobs.exposure_revenue, handle, available_now)


def run(settings: Settings, available_now: bool = False) -> None:
    """Run the job until stopped (Ctrl-C, SIGTERM) or, with `available_now`, caught up."""
    run_job(
        "exposure_revenue", start, settings, available_now, [*INPUT_TABLES.values(), *GOLD_TABLES]
    )


def main(argv: list[str] | None = None) -> None:
    from jobs.entrypoint import streaming_job_main

    streaming_job_main(argv, "brandlake run exposure-revenue", __doc__.split("\n")[0], run)


if __name__ == "__main__":
    main()
