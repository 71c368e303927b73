"""Simulated traffic as the invalid-traffic filter judges it: the tests' shared helpers."""

from __future__ import annotations

import json

import pandas as pd

from jobs.audience.anomaly import AnomalyModel, fit
from jobs.audience.ivt import rule_checked_features
from jobs.audience.metrics import PLAYER_COLUMNS, beacons
from jobs.common.config import Settings
from jobs.simulate import SimulatedRecord

Judged = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]  # impressions, clicks, beacons


def by_stream(records: list[SimulatedRecord]) -> dict[str, Judged]:
    """Each stream's impressions, clicks and beacons (ready to measure) among `records`."""
    rows = [json.loads(r.value) for r in records if r.topic == "viewer_events"]
    players = pd.DataFrame([r for r in rows if r["event_type"] != "click"], columns=PLAYER_COLUMNS)
    clicks = pd.DataFrame([r for r in rows if r["event_type"] == "click"])
    impressions = pd.DataFrame([json.loads(r.value) for r in records if r.topic == "impressions"])
    streams = {}
    for stream, served in impressions.groupby("stream_id"):
        of_stream = players[players["stream_id"] == stream]
        streams[stream] = (served, clicks[clicks["stream_id"] == stream], beacons(of_stream))
    return streams


def viewer_minutes(streams: dict[str, Judged], settings: Settings) -> pd.DataFrame:
    audience = settings.audience
    return pd.concat(
        [rule_checked_features(*judged, audience.invalid_traffic, audience.session_timeout_s)
         for judged in streams.values()],
        ignore_index=True,
    )  # fmt: skip


def learnt_score(streams: dict[str, Judged], settings: Settings) -> AnomalyModel:
    """The learnt score fitted on the viewer-minutes of `streams` the rules pass."""
    features = viewer_minutes(streams, settings)
    conf = settings.models.ivt_model
    return fit(features[features["rules"].isna()], conf.flag_share, conf.trees, seed=7)
