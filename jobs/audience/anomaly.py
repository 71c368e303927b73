"""The learnt invalid-traffic score: how unlike the audience a viewer behaved in a minute.

The rules (`jobs/audience/ivt.py`) catch what is impossible for a person; a bot that keeps under
every threshold (a click farm: a few more ads than people see, many clicks, each a little slower
than a reflex) passes them all, yet its mix of behaviour is unlike anyone's. An isolation forest
learns what the traffic the rules pass looks like, per viewer-minute (`FEATURES`), and scores
each viewer-minute by how easily it is isolated from the rest; those scoring at least the
model's `threshold` are flagged `anomalous (<model version>)`.

Features of a viewer in a minute, from rows within `audience.session_timeout_s` of it (so a
recomputed minute scores the same whatever batch brought its rows):

- `impressions`: its impressions in the minute (people see about 2);
- `clicks`: how many of them it clicked (people click about 3 % of their ads);
- `fastest_click_s`: the quickest of those clicks, seconds after the ad showed (`NO_CLICK_S` when
  none);
- `playing_beacons`: beacons its player sent saying it plays, from the timeout before the minute
  to the timeout after;
- `ip_impressions`: the impressions of its IP hash in the minute.

`brandlake train ivt-model` (`jobs/train/ivt_model.py`) fits the forest on the lake's recent
traffic and registers it in MLflow; `exposure_revenue` scores with the champion it finds at start.
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from jobs.audience.metrics import NOT_WATCHING_AFTER, utc_us
from jobs.common.config import Settings

log = logging.getLogger("brandlake.ivt")

FEATURES = ["impressions", "clicks", "fastest_click_s", "playing_beacons", "ip_impressions"]
NO_CLICK_S = 60.0  # the fastest click of a minute without clicks


def viewer_minute_features(
    impressions: pd.DataFrame, clicks: pd.DataFrame, beacons: pd.DataFrame, timeout_s: float
) -> pd.DataFrame:
    """One row per (viewer_id, minute) with impressions, and its `FEATURES` (see above).

    `impressions` and `clicks` as `jobs/audience/ivt.py` reads them (with `minute`), `beacons`
    as `jobs.audience.metrics.beacons` makes them."""
    served = impressions[impressions["viewer_id"].notna()]
    if served.empty:
        return pd.DataFrame(columns=["viewer_id", "minute", *FEATURES])
    clicked = clicks.drop_duplicates("impression_id").merge(
        served[["event_id", "event_time"]].rename(
            columns={"event_id": "impression_id", "event_time": "served_at"}
        ),
        on="impression_id",
    )
    delay = (clicked["event_time"] - clicked["served_at"]).dt.total_seconds()
    served = served.merge(
        pd.DataFrame({"event_id": clicked["impression_id"], "delay_s": delay.to_numpy()}),
        on="event_id",
        how="left",
    )
    served["ip_impressions"] = served.groupby(["ip_hash", "minute"], dropna=False)[
        "event_id"
    ].transform("size")
    per_minute = served.groupby(["viewer_id", "minute"]).agg(
        impressions=("event_id", "size"),
        clicks=("delay_s", "count"),
        fastest_click_s=("delay_s", "min"),
        ip_impressions=("ip_impressions", "max"),
    )
    features = per_minute.reset_index()
    features["fastest_click_s"] = features["fastest_click_s"].fillna(NO_CLICK_S).clip(0, NO_CLICK_S)
    features["playing_beacons"] = _playing_beacons(features, beacons, timeout_s)
    return features[["viewer_id", "minute", *FEATURES]]


def _playing_beacons(features: pd.DataFrame, beacons: pd.DataFrame, timeout_s: float) -> np.ndarray:
    """For each (viewer, minute): the viewer's playing beacons from `timeout_s` before the minute
    to `timeout_s` after it."""
    playing = beacons[~beacons["event_type"].isin(NOT_WATCHING_AFTER)]
    times = {
        viewer: np.sort(group.to_numpy(dtype="datetime64[us]"))
        for viewer, group in playing.groupby("viewer_id")["event_time"]
    }
    margin = np.timedelta64(round(timeout_s * 1e6), "us")
    minute = np.timedelta64(60, "s")
    counts = np.zeros(len(features), dtype=np.int64)
    starts = utc_us(features["minute"]).dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    for i, (viewer, start) in enumerate(zip(features["viewer_id"], starts, strict=True)):
        found = times.get(viewer)
        if found is not None:
            low, high = np.searchsorted(found, [start - margin, start + minute + margin])
            counts[i] = high - low
    return counts


def _inputs(features: pd.DataFrame) -> np.ndarray:
    """What the forest sees: counts on a log scale (a bot's 30 ads and a person's 3 differ by
    their ratio), shares and seconds as they are."""
    values = features[FEATURES].to_numpy(dtype=float)
    for column in ("impressions", "clicks", "playing_beacons", "ip_impressions"):
        index = FEATURES.index(column)
        values[:, index] = np.log1p(values[:, index])
    return values


@dataclass
class AnomalyModel:
    """An isolation forest over `FEATURES` and the score from which it flags (anomaly scores as
    in Liu et al.: about 0.5 for the typical, towards 1 for the easily isolated)."""

    forest: object  # sklearn.ensemble.IsolationForest
    threshold: float
    label: str = "ivt-model"

    def scores(self, features: pd.DataFrame) -> np.ndarray:
        if features.empty:
            return np.zeros(0)
        return -self.forest.score_samples(_inputs(features))

    def flagged(self, features: pd.DataFrame) -> pd.DataFrame:
        """The rows of `features` whose score reaches the threshold."""
        return features[self.scores(features) >= self.threshold]

    def save(self, path: Path) -> Path:
        path.write_bytes(pickle.dumps({"forest": self.forest, "threshold": self.threshold}))
        return path

    @classmethod
    def load(cls, path: Path, label: str = "ivt-model") -> AnomalyModel:
        # The registry's own artefact, written by `save` (pickle: sklearn's format)
        found = pickle.loads(Path(path).read_bytes())
        return cls(found["forest"], float(found["threshold"]), label)


def fit(features: pd.DataFrame, flag_share: float, trees: int, seed: int) -> AnomalyModel:
    """A forest fitted on `features` (viewer-minutes the rules passed), flagging the
    `flag_share` of them that are easiest to isolate."""
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(n_estimators=trees, random_state=seed, n_jobs=1)
    inputs = _inputs(features)
    forest.fit(inputs)
    threshold = float(np.quantile(-forest.score_samples(inputs), 1 - flag_share))
    return AnomalyModel(forest, threshold)


def load_champion(settings: Settings) -> AnomalyModel | None:
    """The champion `models.ivt_model` to score with, or None (the rules alone) when the learnt
    score is off or no model has been trained and promoted yet; says which in the log."""
    from jobs.common.registry import NoChampionError, champion, tracking_uri

    conf = settings.audience.invalid_traffic
    name = settings.models.ivt_model.name
    if not conf.learnt_score:
        return None
    uri = tracking_uri(settings)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        found = None  # no registry on this machine yet: nothing was ever trained
    else:
        try:
            found = champion(settings, name)
        except NoChampionError:
            found = None
    if found is None:
        log.info("no %s champion: invalid traffic by the rules alone (train one with "
                 "`brandlake train %s`)", name, name)  # fmt: skip
        return None
    log.info("invalid traffic: the rules and %s (%s)", found.label, found.weights)
    return AnomalyModel.load(found.weights, found.label)
