"""Audience from players' beacons: who was watching when, per minute, and what they experienced.

Pure functions over one stream's player events (pandas), so the streaming job, the tests and a
notebook compute the same numbers.

- Watching. A session (its `session_id`; older players without one: the viewer) watches between
  two consecutive beacons when the earlier one says it is playing (anything but
  `session_start`, `pause`, `session_end` and `error`) and the later one came at most
  `audience.session_timeout_s` after it. So a session that stops sending (a closed tab) ends at
  its last beacon, and one that starts sending again later is a new visit. Only beacons within
  the timeout of a minute decide that minute, so a minute is recomputed from a bounded window.
- Concurrent viewers in a minute: watched seconds / 60 (the mean); the peak is the most
  sessions watching at one instant.
- A session ended in a minute when its `session_end` or `error` is in it, or its last beacon is
  and the stream's beacons go on past that beacon plus the timeout. Its view duration is that
  last beacon's `position_s` (seconds since its first frame); ended at 0 s it was abandoned
  before starting.
- QoE per stream, device, geo and CDN: startup time (the first `play`'s `startup_ms`) p50 and
  p95, rebuffering ratio (stalled seconds ended in the minute over stalled plus watched
  seconds), mean bitrate (over watched seconds), error rate (errors over sessions that started
  or watched in the minute) and abandonment (ended before the first frame over attempts).
- Audience-weighted exposure: a frame showing a brand stands for its interval; the viewers
  watching during it saw the brand. Viewer-seconds add each frame's interval times the sessions
  watching through it; exposure impressions count the viewers who saw the brand at least
  `exposure.min_view_seconds` in the minute.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from jobs.exposure.metrics import Frame, minute_of, ratio

NOT_WATCHING_AFTER = ("session_start", "pause", "session_end", "error")
ENDINGS = ("session_end", "error")
AD_EVENTS = ("ad_complete",)
MINUTE = pd.Timedelta(minutes=1)
Flags = dict[tuple[str, pd.Timestamp], str]  # (viewer, minute) -> why it is invalid traffic
QOE_DIMENSIONS = ["device", "geo", "cdn"]
PLAYER_COLUMNS = [
    "event_id", "event_time", "stream_id", "viewer_id", "session_id", "event_type",
    "position_s", "bitrate_kbps", "startup_ms", "rebuffer_ms", "device", "geo", "cdn",
    "ip_hash", "network",
]  # fmt: skip


def beacons(events: pd.DataFrame) -> pd.DataFrame:
    """Player events (`PLAYER_COLUMNS`) ready to measure: one row per event id (Kafka may deliver
    one twice), a session key for each, in time order, `event_time` as UTC timestamps. Ad
    events (`ad_complete`) say what an ad did, not the player: left out (sent when the ad was
    served, they carry the bitrate of that moment)."""
    events = events.loc[~events["event_type"].isin(AD_EVENTS), PLAYER_COLUMNS]
    events = events.drop_duplicates("event_id").copy()
    events["event_time"] = utc_us(events["event_time"])
    for number in ("position_s", "bitrate_kbps", "startup_ms", "rebuffer_ms"):
        events[number] = pd.to_numeric(events[number]).astype(float)
    events["session"] = events["session_id"].fillna(events["viewer_id"])
    return events.sort_values(["event_time", "event_id"], kind="stable").reset_index(drop=True)


def utc_us(times: pd.Series) -> pd.Series:
    """Times as UTC at microseconds, Delta's precision, whether they came from Arrow or Python
    (time joins need one unit on both sides)."""
    return pd.to_datetime(times, utc=True).dt.as_unit("us")


def watch_intervals(events: pd.DataFrame, timeout_s: float) -> pd.DataFrame:
    """[start, end) spans in which a session watched, from consecutive beacons (see above), with
    the session's viewer, bitrate and dimensions at the span's start."""
    ordered = events.sort_values(["session", "event_time", "event_id"], kind="stable")
    following = ordered.groupby("session", sort=False)["event_time"].shift(-1)
    gap = (following - ordered["event_time"]).dt.total_seconds()
    watching = ~ordered["event_type"].isin(NOT_WATCHING_AFTER) & (gap <= timeout_s)
    spans = ordered.loc[watching, ["session", "viewer_id", "bitrate_kbps", *QOE_DIMENSIONS]]
    return spans.assign(
        start=ordered.loc[watching, "event_time"], end=following[watching]
    ).reset_index(drop=True)


def _overlap_us(spans: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Microseconds of each span in [start, end), as integers: their sums are exact whatever
    else a recompute's window holds (float sums of another length round differently, and a
    replayed minute must equal the first computation to the last digit)."""
    low = spans["start"].clip(lower=start)
    high = spans["end"].clip(upper=end)
    return ((high - low) // pd.Timedelta(microseconds=1)).clip(lower=0).astype("int64")


def peak_concurrency(spans: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> int:
    """The most spans open at one instant of [start, end)."""
    low, high = spans["start"].clip(lower=start), spans["end"].clip(upper=end)
    keep = high > low
    if not keep.any():
        return 0
    times = np.concatenate([high[keep].to_numpy(), low[keep].to_numpy()])
    steps = np.concatenate([-np.ones(keep.sum(), int), np.ones(keep.sum(), int)])
    order = np.lexsort((steps, times))  # at one instant a span ends before the next begins
    return int(np.cumsum(steps[order]).max())


def ended_sessions(events: pd.DataFrame, timeout_s: float) -> pd.DataFrame:
    """The last beacon of each session that has ended (see above): its time and position."""
    last = events.sort_values(["event_time", "event_id"]).groupby("session").tail(1)
    newest = events["event_time"].max()
    timed_out = last["event_time"] + pd.Timedelta(seconds=timeout_s) <= newest
    return last[last["event_type"].isin(ENDINGS) | timed_out]


@dataclass(frozen=True)
class Viewing:
    """One stream's beacons (`beacons`) measured once for the audience and QoE minutes: the
    spans its sessions watched (`watch_intervals`) and the sessions that ended
    (`ended_sessions`)."""

    events: pd.DataFrame
    spans: pd.DataFrame
    ended: pd.DataFrame


def viewing(events: pd.DataFrame, timeout_s: float) -> Viewing:
    return Viewing(events, watch_intervals(events, timeout_s), ended_sessions(events, timeout_s))


def flagged_in(flags: Flags | None, minute: pd.Timestamp) -> set[str]:
    """The viewers flagged as invalid traffic in `minute` (`jobs/audience/ivt.py`)."""
    return {viewer for viewer, at in flags or {} if at == minute}


def _valid(rows: pd.DataFrame, flagged: set[str]) -> pd.DataFrame:
    return rows[~rows["viewer_id"].isin(flagged)] if flagged else rows


def audience_minutes(
    stream_id: str, seen: Viewing, minutes: Iterable[datetime], flags: Flags | None = None
) -> list[dict]:
    """Rows of `gold.audience_minute` for those of one stream's `minutes` with viewers or
    beacons, from its beacons within the timeout around them. Viewers `flags` flags in a
    minute are left out of it and counted."""
    events, spans, ended = seen.events, seen.spans, seen.ended
    rows = []
    for minute in minutes:
        start = pd.Timestamp(minute)
        in_minute = events[events["event_time"].dt.floor("min") == start]
        if not (_overlap_us(spans, start, start + MINUTE) > 0).any() and in_minute.empty:
            continue  # no viewers and no beacons: before the stream's audience, or not yet
        flagged = flagged_in(flags, start)
        valid_spans = _valid(spans, flagged)
        watched_us = _overlap_us(valid_spans, start, start + MINUTE)
        watched = watched_us > 0
        seconds = int(watched_us.sum()) / 1e6
        in_minute = _valid(in_minute, flagged)
        ended_here = _valid(ended[ended["event_time"].dt.floor("min") == start], flagged)
        finished = ended_here[ended_here["position_s"] > 0]
        rows.append(
            {
                "stream_id": stream_id,
                "minute": minute,
                "avg_concurrent_viewers": seconds / 60,
                "peak_concurrent_viewers": peak_concurrency(valid_spans, start, start + MINUTE),
                "unique_viewers": int(valid_spans.loc[watched, "viewer_id"].nunique()),
                "viewer_seconds": seconds,
                "sessions_attempted": int((in_minute["event_type"] == "session_start").sum()),
                "sessions_started": int(in_minute["startup_ms"].notna().sum()),
                "sessions_ended": len(ended_here),
                "avg_view_duration_s": float(finished["position_s"].mean())
                if len(finished)
                else None,
                "invalid_viewers": len(flagged),
            }
        )
    return rows


def qoe_minutes(
    stream_id: str, seen: Viewing, minutes: Iterable[datetime], flags: Flags | None = None
) -> list[dict]:
    """Rows of `gold.qoe_minute` for one stream's `minutes`: one per device, geo and CDN seen
    (a beacon without one: `unknown`), viewers `flags` flags in a minute left out of it."""
    events, spans, ended = seen.events, seen.spans, seen.ended
    rows = []
    for minute in minutes:
        start = pd.Timestamp(minute)
        end = start + MINUTE
        flagged = flagged_in(flags, start)
        watched = _valid(spans, flagged)
        watched = watched.assign(us=_overlap_us(watched, start, end))
        watched = _dimensions(watched[watched["us"] > 0])
        here = _dimensions(_valid(events[_within(events, start, end)], flagged))
        if watched.empty and here.empty:
            continue
        ends = _dimensions(_valid(ended[_within(ended, start, end)], flagged))
        rows += _qoe_rows(stream_id, minute, watched, here, ends)
    return rows


def _within(rows: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    return (rows["event_time"] >= start) & (rows["event_time"] < end)


def _dimensions(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.assign(**{d: rows[d].fillna("unknown") for d in QOE_DIMENSIONS})


def _qoe_rows(
    stream_id: str, minute: datetime, watched: pd.DataFrame, here: pd.DataFrame, ends: pd.DataFrame
) -> list[dict]:
    """One minute's QoE per dimensions from its watched spans, beacons and ended sessions."""
    by = QOE_DIMENSIONS
    kind = here["event_type"]
    sums = pd.concat(
        [
            watched.assign(bitrate_us=watched["bitrate_kbps"].fillna(0).astype("int64")
                           * watched["us"])
            .groupby(by)[["us", "bitrate_us"]].sum(),
            here.assign(attempts=kind == "session_start", errors=kind == "error")
            .groupby(by)[["attempts", "errors", "rebuffer_ms"]].sum(),
            here.groupby(by)["startup_ms"].quantile(0.5).rename("startup_p50_ms"),
            here.groupby(by)["startup_ms"].quantile(0.95).rename("startup_p95_ms"),
            ends[ends["position_s"] == 0].groupby(by).size().rename("abandoned"),
            pd.concat([watched[[*by, "session"]], here[[*by, "session"]]])
            .drop_duplicates().groupby(by).size().rename("sessions"),
        ],
        axis=1,
    )  # fmt: skip
    counts = ["us", "bitrate_us", "attempts", "errors", "rebuffer_ms", "abandoned"]
    sums[counts] = sums[counts].fillna(0)
    rows = []
    for key, s in sums.sort_index().iterrows():
        stalled, watch = s["rebuffer_ms"] / 1000, s["us"] / 1e6
        rows.append(
            {
                "stream_id": stream_id,
                "minute": minute,
                **dict(zip(by, key, strict=True)),
                "sessions": int(s["sessions"]),
                "attempts": int(s["attempts"]),
                "startup_p50_ms": _number(s["startup_p50_ms"]),
                "startup_p95_ms": _number(s["startup_p95_ms"]),
                "watched_seconds": float(watch),
                "rebuffer_seconds": float(stalled),
                "rebuffer_ratio": ratio(stalled, stalled + watch),
                "mean_bitrate_kbps": ratio(s["bitrate_us"], s["us"]) if watch else None,
                "errors": int(s["errors"]),
                "error_rate": ratio(s["errors"], s["sessions"]),
                "abandoned": int(s["abandoned"]),
                "abandonment_rate": ratio(s["abandoned"], s["attempts"]) if s["attempts"] else None,
            }
        )
    return rows


def _number(value: float) -> float | None:
    return None if pd.isna(value) else float(value)


def audience_exposure(
    frames: list[Frame], spans: pd.DataFrame, min_view_seconds: float, flags: Flags | None = None
) -> dict[tuple[datetime, str], tuple[float, int]]:
    """(minute, brand) -> (viewer-seconds, exposure impressions) for the frames showing a brand
    (each counted in its own minute, as screen seconds are), by viewers not flagged then."""
    shown: dict[tuple[datetime, str], list[tuple[datetime, datetime]]] = {}
    for frame in frames:
        end = frame.frame_time + timedelta(seconds=frame.interval_s)
        for brand in {b.brand_id for b in frame.brands}:
            shown.setdefault((minute_of(frame.frame_time), brand), []).append(
                (frame.frame_time, end)
            )
    out = {}
    for key, on_screen in shown.items():
        valid = _valid(spans, flagged_in(flags, pd.Timestamp(key[0])))
        starts = valid["start"].dt.tz_convert(None).to_numpy()
        ends = valid["end"].dt.tz_convert(None).to_numpy()
        viewers = valid["viewer_id"].to_numpy()
        seen_us = np.zeros(len(valid), np.int64)  # integers: exact sums (see _overlap_us)
        for low, high in _union(on_screen):
            lo, hi = (np.datetime64(pd.Timestamp(t).tz_convert(None)) for t in (low, high))
            overlap = np.minimum(ends, hi) - np.maximum(starts, lo)
            seen_us += np.clip(overlap // np.timedelta64(1, "us"), 0, None).astype(np.int64)
        per_viewer = pd.Series(seen_us).groupby(viewers).sum()
        enough = int((per_viewer >= round(min_view_seconds * 1e6)).sum())
        out[key] = (int(seen_us.sum()) / 1e6, enough)
    return out


def _union(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[list[datetime]] = []
    for low, high in sorted(spans):
        if merged and low <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return [(low, high) for low, high in merged]
