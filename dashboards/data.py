"""What the dashboard shows, read from the lake (delta-rs, no Spark) and from Redis.

Every reader returns plain pandas frames or dataclasses; anything the user can fix (an empty
lake, a table no job has written yet, a stopped Redis) raises `DataUnavailableError` with a
message that says what to run, so pages show it instead of a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from pyarrow import fs

from jobs.audience.metrics import PLAYER_COLUMNS, beacons
from jobs.audience.rollup import ads_by_qoe_band, viewer_rebuffering
from jobs.common import object_store
from jobs.common.config import Settings, is_uri, join_uri
from jobs.common.lake import open_table
from jobs.common.live_state import (
    AUDIENCE_KEY,
    EXPOSURE_KEY,
    LIVE_KEY,
    MENTIONS_KEY,
    REVENUE_KEY,
    redis_url,
)
from jobs.exposure.revenue import safety_band
from jobs.exposure.rollup import exposure_rollup, revenue_rollup
from schemas.tables import (
    AUDIENCE_MINUTE,
    BRAND_EXPOSURE_MINUTE,
    BRAND_MENTIONS_MINUTE,
    CLICKS,
    CTR_MODEL_EVALUATION,
    DATA_QUALITY_RESULTS,
    DETECTIONS,
    FLOOR_RULES,
    IMPRESSION_CONTEXT,
    PLAYER_EVENTS,
    QOE_MINUTE,
    QUARANTINE,
    REVENUE_MINUTE,
    SEGMENT_CONTEXT,
    TABLE_STATS,
    YIELD_EXPERIMENT,
)

# Which job writes each table, for the message shown while it does not exist.
WRITTEN_BY = {
    "bronze": "brandlake run bronze-ingest",
    "silver.detections": "brandlake run frame-analysis",
    "silver.segment_context": "brandlake run frame-analysis",
    "gold": "brandlake run exposure-revenue",
    "ops.data_quality_results": "brandlake quality",
    "ops.table_stats": "brandlake maintenance",
    "gold.floor_rules": "brandlake yield",
    "gold.yield_experiment": "brandlake yield",
    "gold.ctr_model_evaluation": "brandlake train ctr-model",
}


class DataUnavailableError(Exception):
    """Data the page needs is not there; the message says why and what to run."""


def _writer(name: str) -> str:
    return WRITTEN_BY.get(name) or WRITTEN_BY[name.split(".")[0]]


def dataset(settings: Settings, name: str) -> ds.Dataset:
    """A Delta table as a pyarrow dataset (filters push down to file statistics)."""
    uri = settings.table_uri(name)
    try:
        delta = open_table(settings, name)
    except Exception as error:  # delta-rs raises its own errors or an OS error by store
        raise DataUnavailableError(f"Table `{name}` at {uri} cannot be read: {error}") from error
    if delta is None:
        raise DataUnavailableError(
            f"Table `{name}` does not exist yet at {uri}: run `{_writer(name)}` "
            "(or `make demo`) to fill the lake."
        )
    return delta.to_pyarrow_dataset()


def read(
    settings: Settings,
    name: str,
    columns: list[str] | None = None,
    where: ds.Expression | None = None,
) -> pd.DataFrame:
    return dataset(settings, name).to_table(columns=columns, filter=where).to_pandas()


def _between(column: str, start: datetime | None, end: datetime | None) -> ds.Expression | None:
    where = None
    if start is not None:
        where = ds.field(column) >= pa.scalar(start, pa.timestamp("us", tz="UTC"))
    if end is not None:
        upper = ds.field(column) < pa.scalar(end, pa.timestamp("us", tz="UTC"))
        where = upper if where is None else where & upper
    return where


def _only(frame: pd.DataFrame, column: str, values: list[str] | None) -> pd.DataFrame:
    return frame if not values else frame[frame[column].isin(values)]


# -- streams and live state ------------------------------------------------------------------


def streams(settings: Settings) -> list[str]:
    """Streams with a playlist in the landing area, segments in the lake or state in Redis."""
    found: set[str] = set(landed_streams(settings))
    try:
        table = dataset(settings, "bronze.segments").to_table(columns=["stream_id"])
        found.update(pc.unique(table.column("stream_id")).to_pylist())
    except DataUnavailableError:
        pass
    try:
        keys = _redis(settings).scan_iter(match=LIVE_KEY.format(stream_id="*"), count=500)
        found.update(key.split(":", 2)[2] for key in keys)
    except DataUnavailableError:
        pass
    return sorted(s for s in found if s)


def landed_streams(settings: Settings) -> list[str]:
    """Streams whose HLS playlist is in the landing area (local folder or object store)."""
    root = join_uri(settings.lake.root, settings.ingest.landing)
    try:
        filesystem, path = object_store.filesystem(
            root if is_uri(root) else str(Path(root).absolute()), settings.lake.storage_options
        )
        listing = filesystem.get_file_info(fs.FileSelector(path, allow_not_found=True))
        playlists = filesystem.get_file_info([f"{i.path}/index.m3u8" for i in listing])
    except OSError:
        return []
    return [p.path.split("/")[-2] for p in playlists if p.type == fs.FileType.File]


@dataclass
class LiveState:
    """A stream's state in Redis (keys in jobs/common/live_state.py)."""

    stream_id: str
    frame_time: datetime | None = None
    brands_now: list[str] = field(default_factory=list)
    person_count: int | None = None
    scene_label: str | None = None
    safety_score: float | None = None
    exposure_seconds: dict[str, float] = field(default_factory=dict)  # last few minutes
    exposure_until: datetime | None = None
    revenue_last_minute: float | None = None
    revenue_minute: datetime | None = None
    viewers: float | None = None  # mean concurrent viewers in `audience_minute`
    peak_viewers: int | None = None
    audience_minute: datetime | None = None
    # brand -> {text_mentions, text_seconds, speech_mentions} over the same minutes as exposure
    mentions: dict[str, dict] = field(default_factory=dict)


def _redis(settings: Settings):
    import redis

    url = redis_url(settings)
    client = redis.Redis.from_url(
        url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True
    )
    try:
        client.ping()
    except (redis.RedisError, OSError) as error:
        raise DataUnavailableError(
            f"Redis at {url} is not reachable ({error}): start it with `brandlake services up`, "
            "then the streaming jobs fill it."
        ) from error
    return client


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def live_state(settings: Settings, stream_id: str) -> LiveState:
    client = _redis(settings)
    pipe = client.pipeline(transaction=False)
    for key in (LIVE_KEY, EXPOSURE_KEY, REVENUE_KEY, AUDIENCE_KEY, MENTIONS_KEY):
        pipe.hgetall(key.format(stream_id=stream_id))
    live, exposure, revenue, audience, mentions = pipe.execute()
    state = LiveState(stream_id)
    if live:
        state.frame_time = _time(live.get("frame_time"))
        state.brands_now = json.loads(live.get("brands") or "[]")
        state.person_count = int(live["person_count"]) if live.get("person_count") else None
        state.scene_label = live.get("scene_label") or None
        state.safety_score = float(live["safety_score"]) if live.get("safety_score") else None
    state.exposure_until = _time(exposure.pop("_until", None))
    exposure.pop("_batch_id", None)
    state.exposure_seconds = {brand: float(seconds) for brand, seconds in exposure.items()}
    if revenue:
        state.revenue_last_minute = float(revenue.get("revenue", 0.0))
        state.revenue_minute = _time(revenue.get("minute"))
    if audience:
        state.viewers = float(audience["viewers"])
        state.peak_viewers = int(audience["peak"])
        state.audience_minute = _time(audience.get("minute"))
    mentions.pop("_until", None)
    state.mentions = {brand: json.loads(counts) for brand, counts in mentions.items()}
    return state


# -- brand exposure --------------------------------------------------------------------------


def exposure_minutes(
    settings: Settings, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    """Rows of gold.brand_exposure_minute in [start, end); pages filter streams and brands."""
    frame = read(settings, BRAND_EXPOSURE_MINUTE.name, where=_between("minute", start, end))
    return frame.sort_values(["minute", "stream_id", "brand_id"]).reset_index(drop=True)


def mention_minutes(
    settings: Settings, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    """Rows of gold.brand_mentions_minute in [start, end): brands named on screen and said."""
    frame = read(settings, BRAND_MENTIONS_MINUTE.name, where=_between("minute", start, end))
    return frame.sort_values(["minute", "stream_id", "brand_id"]).reset_index(drop=True)


def mentions_by_brand(minutes: pd.DataFrame) -> pd.DataFrame:
    """Per brand: text and speech mentions and seconds, and their media value."""
    totals = ["text_mentions", "text_seconds", "speech_mentions", "speech_seconds", "media_value"]
    return minutes.groupby("brand_id", as_index=False)[totals].sum()


def exposure_by_brand(minutes: pd.DataFrame) -> pd.DataFrame:
    """Per brand over the given minutes (any streams): see `jobs/exposure/rollup.py`."""
    return exposure_rollup(minutes, ["brand_id"])


def exposure_by_minute(minutes: pd.DataFrame) -> pd.DataFrame:
    """Per minute and brand over the selected streams, share of voice within each minute."""
    return exposure_rollup(minutes, ["minute", "brand_id"]).sort_values("minute")


# -- revenue ---------------------------------------------------------------------------------


def revenue_minutes(
    settings: Settings, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    frame = read(settings, REVENUE_MINUTE.name, where=_between("minute", start, end))
    return frame.sort_values("minute").reset_index(drop=True)


def revenue_by_campaign(minutes: pd.DataFrame) -> pd.DataFrame:
    """Per campaign and stream: see `jobs/exposure/rollup.py`."""
    return revenue_rollup(minutes, ["campaign_id", "stream_id"])


def revenue_total(minutes: pd.DataFrame) -> pd.DataFrame:
    """One row: every selected campaign, stream and minute together."""
    return revenue_rollup(minutes.assign(selection="all"), ["selection"])


def impression_breakdown(
    settings: Settings,
    streams: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pd.DataFrame:
    """Impressions and revenue (invalid traffic left out) by the scene and brand-safety band
    on screen when served."""
    columns = ["stream_id", "clearing_cpm", "scene_label", "safety_score", "invalid_reason"]
    frame = read(
        settings, IMPRESSION_CONTEXT.name, columns, where=_between("event_time", start, end)
    )
    frame = _only(frame, "stream_id", streams)
    frame = frame[frame["invalid_reason"].isna()].copy()
    frame["scene_label"] = frame.scene_label.fillna("no frame near")
    frame["safety"] = frame.safety_score.map(safety_band)
    frame["revenue"] = frame.clearing_cpm / 1000
    return (
        frame.groupby(["scene_label", "safety"], as_index=False)
        .agg(impressions=("revenue", "size"), revenue=("revenue", "sum"))
        .sort_values("revenue", ascending=False)
        .reset_index(drop=True)
    )


# -- audience and QoE ------------------------------------------------------------------------


def audience_minutes(
    settings: Settings, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    frame = read(settings, AUDIENCE_MINUTE.name, where=_between("minute", start, end))
    return frame.sort_values(["minute", "stream_id"]).reset_index(drop=True)


def qoe_minutes(
    settings: Settings, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    frame = read(settings, QOE_MINUTE.name, where=_between("minute", start, end))
    return frame.sort_values(["minute", "stream_id"]).reset_index(drop=True)


def ads_by_qoe(
    settings: Settings,
    streams: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pd.DataFrame:
    """Valid impressions, ad completion, revenue, eCPM and CTR of viewers who rebuffered more
    than `audience.rebuffer_band` of their watching time and of the others."""
    when = _between("event_time", start, end)
    context_columns = ["event_id", "stream_id", "viewer_id", "clearing_cpm", "invalid_reason"]
    events = _only(read(settings, PLAYER_EVENTS.name, [*PLAYER_COLUMNS, "impression_id"], when),
                   "stream_id", streams)  # fmt: skip
    contexts = _only(read(settings, IMPRESSION_CONTEXT.name, context_columns, when), "stream_id",
                     streams)  # fmt: skip
    clicks = _only(read(settings, CLICKS.name, ["stream_id", "viewer_id"], when), "stream_id",
                   streams)  # fmt: skip
    audience = settings.audience
    viewers = viewer_rebuffering(beacons(events), audience.session_timeout_s)
    completed = events.loc[events["event_type"] == "ad_complete", "impression_id"]
    return ads_by_qoe_band(viewers, contexts, clicks, completed, audience.rebuffer_band)


# -- health ----------------------------------------------------------------------------------


def quarantine_reasons(settings: Settings) -> pd.DataFrame:
    """Quarantined records by topic and reason (the reason's first line), newest first."""
    frame = read(settings, QUARANTINE.name, ["kafka_topic", "reason", "ingest_time"])
    if frame.empty:
        return pd.DataFrame(columns=["kafka_topic", "reason", "records", "last_seen"])
    frame["reason"] = frame.reason.str.split("\n").str[0].str.slice(0, 200)
    return (
        frame.groupby(["kafka_topic", "reason"], as_index=False)
        .agg(records=("reason", "size"), last_seen=("ingest_time", "max"))
        .sort_values("last_seen", ascending=False)
        .reset_index(drop=True)
    )


def stream_lag(settings: Settings, now: datetime | None = None) -> pd.DataFrame:
    """Per stream: end of the newest segment in the lake, newest analysed frame, and how far
    analysis is behind (seconds; null before the first analysed frame)."""
    segments = read(settings, "bronze.segments", ["stream_id", "start_time", "duration_s"])
    if segments.empty:
        return pd.DataFrame(columns=["stream_id", "latest_segment_end", "latest_analysed_frame",
                                     "analysis_lag_s", "segment_age_s"])  # fmt: skip
    segments["end"] = segments.start_time + pd.to_timedelta(segments.duration_s, unit="s")
    lag = segments.groupby("stream_id", as_index=False).agg(latest_segment_end=("end", "max"))
    try:
        frames = read(settings, SEGMENT_CONTEXT.name, ["stream_id", "frame_time"])
        analysed = frames.groupby("stream_id", as_index=False).agg(
            latest_analysed_frame=("frame_time", "max")
        )
        lag = lag.merge(analysed, on="stream_id", how="left")
    except DataUnavailableError:
        lag["latest_analysed_frame"] = pd.NaT
    lag["analysis_lag_s"] = (lag.latest_segment_end - lag.latest_analysed_frame).dt.total_seconds()
    now = pd.Timestamp(now or datetime.now(UTC))
    lag["segment_age_s"] = (now - lag.latest_segment_end).dt.total_seconds()
    return lag.sort_values("stream_id").reset_index(drop=True)


def models_in_use(settings: Settings) -> pd.DataFrame:
    """Every model version in silver.detections with its detections and the frames it first
    and last analysed: a champion handed over shows as one version ending where the next
    begins."""
    frame = read(settings, DETECTIONS.name, ["model_name", "model_version", "frame_time"])
    columns = ["model_name", "model_version", "detections", "first_used", "last_used"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    return (
        frame.groupby(["model_name", "model_version"], as_index=False)
        .agg(
            detections=("frame_time", "size"),
            first_used=("frame_time", "min"),
            last_used=("frame_time", "max"),
        )
        .sort_values("last_used", ascending=False)
        .reset_index(drop=True)[columns]
    )


def data_quality_latest(settings: Settings) -> pd.DataFrame:
    """The newest data_quality run per table: expectations, failed, critical failed, and the
    failed expectations with their observed values."""
    frame = read(settings, DATA_QUALITY_RESULTS.name)
    columns = ["table_name", "run_time", "expectations", "failed", "critical", "failures"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    latest = frame[frame.run_time == frame.run_time.max()]
    failed = latest[~latest.success]

    def failures(rows: pd.DataFrame) -> str:
        broken = rows[~rows.success]
        return "; ".join(
            f"{r.expectation}({r.column_name or ''}): {r.error or r.observed_value or r.sample}"
            for r in broken.itertuples()
        )

    summary = latest.groupby("table_name").agg(
        run_time=("run_time", "max"), expectations=("success", "size")
    )
    summary["failed"] = failed.groupby("table_name").size()
    summary["critical"] = failed[failed.severity == "critical"].groupby("table_name").size()
    summary["failures"] = pd.Series(
        {name: failures(rows) for name, rows in latest.groupby("table_name")}
    )
    summary[["failed", "critical"]] = summary[["failed", "critical"]].fillna(0).astype(int)
    return summary.reset_index()[columns].sort_values("table_name").reset_index(drop=True)


def table_sizes(settings: Settings) -> pd.DataFrame:
    """Each table's files, size and rows after the newest lakehouse_maintenance run."""
    frame = read(settings, TABLE_STATS.name)
    columns = ["table_name", "files", "megabytes", "rows", "version", "run_time"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    latest = frame.sort_values("run_time").groupby("table_name").tail(1).copy()
    latest["megabytes"] = (latest["bytes"] / 1e6).round(2)
    return latest[columns].sort_values("table_name").reset_index(drop=True)


# -- yield ------------------------------------------------------------------------------------


def floors_in_force(settings: Settings) -> pd.DataFrame:
    """The newest published rule set: one row per rule, a column per dimension."""
    frame = read(settings, FLOOR_RULES.name)
    frame = frame[frame.published]
    if frame.empty:
        return pd.DataFrame(columns=["version", "valid_from", "floor_cpm"])
    newest = frame[frame.version == frame.sort_values("valid_from").version.iloc[-1]]
    dimensions = newest.dimensions.iloc[0].split(",")
    values = pd.DataFrame(newest["match"].map(json.loads).tolist(), columns=dimensions,
                          index=newest.index)  # fmt: skip
    out = pd.concat([newest[["version", "valid_from", "method"]], values,
                     newest[["floor_cpm", "train_auctions"]]], axis=1)  # fmt: skip
    return out.sort_values("floor_cpm", ascending=False).reset_index(drop=True)


def yield_experiment(
    settings: Settings, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    """gold.yield_experiment rows (per hour and arm) in the range."""
    return read(settings, YIELD_EXPERIMENT.name, where=_between("hour", start, end)).sort_values(
        ["hour", "arm"]
    )


def ctr_calibration(settings: Settings) -> pd.DataFrame:
    """The newest CTR model training: predicted / observed clicks per slot type for each model
    scored (the candidate, the baseline, the champion, the true probabilities)."""
    frame = read(settings, CTR_MODEL_EVALUATION.name)
    if frame.empty:
        return pd.DataFrame(columns=["slot_type"])
    newest = frame[frame.created_at == frame.created_at.max()]
    slots = newest[newest.metric.str.startswith("calibration_slot_")].assign(
        slot_type=lambda f: f.metric.str.removeprefix("calibration_slot_")
    )
    return slots.pivot_table(index="slot_type", columns="scored", values="value").reset_index()


# -- the player's overlay --------------------------------------------------------------------


def detections_between(
    settings: Settings, stream_id: str, start: datetime, end: datetime
) -> list[dict]:
    """Analysed frames of a stream in [start, end) with their boxes, oldest first:
    `{"t": epoch ms, "boxes": [{kind, label, confidence, x1, y1, x2, y2}]}`. Frames with no
    boxes are listed too, so the player clears the overlay when nothing is on screen."""
    window = _between("frame_time", start, end) & (ds.field("stream_id") == stream_id)
    frames: dict[int, list[dict]] = {}
    try:
        context = dataset(settings, SEGMENT_CONTEXT.name).to_table(["frame_time"], filter=window)
        for t in context.column("frame_time").to_pylist():
            frames.setdefault(_epoch_ms(t), [])
    except DataUnavailableError:
        pass
    columns = ["frame_time", "kind", "label", "confidence", "x1", "y1", "x2", "y2"]
    for row in dataset(settings, DETECTIONS.name).to_table(columns, filter=window).to_pylist():
        t = _epoch_ms(row.pop("frame_time"))
        row["confidence"] = round(row["confidence"], 3)
        frames.setdefault(t, []).append(row)
    return [{"t": t, "boxes": boxes} for t, boxes in sorted(frames.items())]


def _epoch_ms(t: datetime) -> int:
    return round(t.timestamp() * 1000)
