"""Invalid traffic: the viewers, minute by minute, whose impressions and viewing no one should pay
for or count. Pure functions over one stream's rows, as the rest of `jobs/audience/`.

A viewer is flagged in a minute, with every reason that applies
(`audience.invalid_traffic` in conf/):

- `network`: an impression, click or beacon from a network class no audience lives in
  (`invalid_networks`: data centres);
- `viewer rate`: more than `max_impressions_per_viewer_minute` impressions in the minute;
- `ip rate`: its IP hash had more than `max_impressions_per_ip_minute` impressions in the minute
  (every viewer behind it is flagged);
- `no player`: an impression while its player sent no beacon saying it plays (first frame,
  heartbeat, stall, bitrate switch) within `audience.session_timeout_s`, though other players
  of the stream did (a stream whose players send no beacons is not judged on them);
- `fast click`: a click sooner than `min_click_delay_s` after its impression (the minutes within
  the timeout of the click too: a reflex bot's quiet minute next to it is the same bot);
- `anomalous (<model version>)`: with a learnt model (`jobs/audience/anomaly.py`), a minute with
  impressions the rules passed whose behaviour scores at least the model's threshold.

Flagged viewers' impressions keep their rows with the reason (`gold.impression_context`) and are
left out of revenue and clicks; their viewing is left out of audience, QoE and exposure
weighting, for that minute. Each minute depends only on rows within the timeout of it, so a
recomputed minute gets the same flags whatever batch brought its rows.
"""

from __future__ import annotations

import pandas as pd

from jobs.audience.anomaly import AnomalyModel, viewer_minute_features
from jobs.audience.metrics import NOT_WATCHING_AFTER, Flags, utc_us
from jobs.common.config import InvalidTrafficConf

IMPRESSION_COLUMNS = ["event_id", "event_time", "viewer_id", "ip_hash", "network"]
CLICK_COLUMNS = ["event_id", "event_time", "viewer_id", "impression_id", "network"]


def _frame(rows: list[dict] | pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns) if isinstance(rows, list) else rows[columns]
    frame = frame.assign(event_time=utc_us(frame["event_time"]))
    return frame.assign(minute=frame["event_time"].dt.floor("min"))


def invalid_viewers(
    impressions: list[dict] | pd.DataFrame,
    clicks: list[dict] | pd.DataFrame,
    beacons: pd.DataFrame,
    conf: InvalidTrafficConf,
    timeout_s: float,
    model: AnomalyModel | None = None,
) -> Flags:
    """Every flagged (viewer, minute) of one stream's rows, with its reasons (see above)."""
    impressions, clicks, beacons = _prepared(impressions, clicks, beacons)
    flags = _rule_flags(impressions, clicks, beacons, conf, timeout_s)
    if model is not None:
        features = viewer_minute_features(impressions, clicks, timeout_s)
        passed = features[[key not in flags for key in _keys(features)]]
        for key in _keys(model.flagged(passed)):
            flags[key] = f"anomalous ({model.label})"
    return flags


def rule_checked_features(
    impressions: list[dict] | pd.DataFrame,
    clicks: list[dict] | pd.DataFrame,
    beacons: pd.DataFrame,
    conf: InvalidTrafficConf,
    timeout_s: float,
) -> pd.DataFrame:
    """The learnt score's features of each viewer-minute with impressions, and the rules'
    reasons for it (`rules`; None where they passed it): what `brandlake train ivt-model`
    learns from."""
    impressions, clicks, beacons = _prepared(impressions, clicks, beacons)
    flags = _rule_flags(impressions, clicks, beacons, conf, timeout_s)
    features = viewer_minute_features(impressions, clicks, timeout_s)
    return features.assign(rules=[flags.get(key) for key in _keys(features)])


def _keys(rows: pd.DataFrame) -> list[tuple[str, pd.Timestamp]]:
    return list(rows[["viewer_id", "minute"]].itertuples(index=False, name=None))


def _prepared(
    impressions: list[dict] | pd.DataFrame, clicks: list[dict] | pd.DataFrame, beacons: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return (
        _frame(impressions, IMPRESSION_COLUMNS),
        _frame(clicks, CLICK_COLUMNS),
        beacons.assign(minute=beacons["event_time"].dt.floor("min")),
    )


def _rule_flags(
    impressions: pd.DataFrame,
    clicks: pd.DataFrame,
    beacons: pd.DataFrame,
    conf: InvalidTrafficConf,
    timeout_s: float,
) -> Flags:
    reasons: dict[tuple[str, pd.Timestamp], set[str]] = {}

    def flag(rows: pd.DataFrame, reason: str) -> None:
        for key in _keys(rows.drop_duplicates(["viewer_id", "minute"])):
            reasons.setdefault(key, set()).add(reason)

    for rows in (impressions, clicks, beacons):
        flag(rows[rows["network"].isin(conf.invalid_networks)], "network")
    per_viewer = impressions.groupby(["viewer_id", "minute"])["event_id"].transform("size")
    flag(impressions[per_viewer > conf.max_impressions_per_viewer_minute], "viewer rate")
    per_ip = impressions.groupby(["ip_hash", "minute"])["event_id"].transform("size")
    busy_ip = impressions["ip_hash"].notna() & (per_ip > conf.max_impressions_per_ip_minute)
    flag(impressions[busy_ip], "ip rate")
    flag(_without_player(impressions, beacons, timeout_s), "no player")
    served = impressions[["event_id", "event_time"]].rename(
        columns={"event_id": "impression_id", "event_time": "served_at"}
    )
    clicked = clicks.merge(served, on="impression_id")
    delay = (clicked["event_time"] - clicked["served_at"]).dt.total_seconds()
    fast = clicked[delay < conf.min_click_delay_s]
    for reach in (-timeout_s, 0, timeout_s):  # every minute whose window holds the fast click
        shifted = fast["event_time"] + pd.Timedelta(seconds=reach)
        flag(fast.assign(minute=shifted.dt.floor("min")), "fast click")
    flag(impressions[impressions["event_id"].isin(fast["impression_id"])], "fast click")
    return {key: "; ".join(sorted(why)) for key, why in reasons.items()}


def _without_player(
    impressions: pd.DataFrame, beacons: pd.DataFrame, timeout_s: float
) -> pd.DataFrame:
    """Impressions of viewers whose player said nothing about playing within the timeout, in
    moments when other players of the stream did."""
    playing = beacons[~beacons["event_type"].isin(NOT_WATCHING_AFTER)]
    impressions = impressions[impressions["viewer_id"].notna()]  # (rows from before viewer ids)
    if playing.empty or impressions.empty:
        return impressions.iloc[0:0]
    tolerance = pd.Timedelta(seconds=timeout_s)
    ordered = impressions.sort_values("event_time")
    beats = playing[["event_time", "viewer_id"]].rename(columns={"event_time": "beat_time"})
    beats = beats.sort_values("beat_time")
    nearest = {"left_on": "event_time", "right_on": "beat_time", "tolerance": tolerance,
               "direction": "nearest"}  # fmt: skip
    own = pd.merge_asof(ordered, beats, by="viewer_id", **nearest)
    anyone = pd.merge_asof(ordered, beats[["beat_time"]], **nearest)
    judged = anyone["beat_time"].notna().to_numpy()
    return ordered[own["beat_time"].isna().to_numpy() & judged]
