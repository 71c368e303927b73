"""The learnt invalid-traffic score: how unlike the audience a viewer behaved in a minute.

The rules (`jobs/audience/ivt.py`) catch what is impossible for a person; a bot that keeps under
every threshold (a click farm: a few more ads than people see, many clicks, each a little slower
than a reflex) passes them all, yet its mix of behaviour is unlike anyone's. An isolation forest
learns what the traffic the rules pass looks like, per viewer-minute (`FEATURES`), and scores
each viewer-minute by how easily it is isolated from the rest; those scoring at least the
model's `threshold` are flagged `anomalous (<model version>)`.

Features of a viewer in a minute, each over the minute's window: from
`audience.session_timeout_s` before the minute to as long after it (so a bot's minute is judged
with its neighbours', and a recomputed minute scores the same whatever batch brought its rows):

- `impressions`: its impressions (people see about 2 a minute);
- `clicks`: how many of them it clicked (people click about 3 % of their ads);
- `fastest_click_s`: the quickest of those clicks, seconds after the ad showed (`NO_CLICK_S` when
  none).

What the rules judge already (the network, the IP's rate, whether a player plays) is left to
them: beacon counts and IP rates, tried as features, made people at the edges of their sessions
look as odd as the bots and cost precision.

`brandlake train ivt-model` (`jobs/train/ivt_model.py`) fits the forest on the lake's recent
traffic and registers it in MLflow; `exposure_revenue` scores with the champion it finds at start.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from jobs.audience.metrics import utc_us
from jobs.common.config import Settings

log = logging.getLogger("brandlake.ivt")

FEATURES = ["impressions", "clicks", "fastest_click_s"]
NO_CLICK_S = 60.0  # the fastest click of a minute without clicks


def viewer_minute_features(
    impressions: pd.DataFrame, clicks: pd.DataFrame, timeout_s: float
) -> pd.DataFrame:
    """One row per (viewer_id, minute) with impressions, and its `FEATURES` (see above), each
    over the minute's window: from `timeout_s` before it to `timeout_s` after it.

    `impressions` and `clicks` as `jobs/audience/ivt.py` reads them (with `minute`)."""
    served = impressions[impressions["viewer_id"].notna()]
    keys = served[["viewer_id", "minute"]].drop_duplicates().reset_index(drop=True)
    if keys.empty:
        return pd.DataFrame(columns=["viewer_id", "minute", *FEATURES])
    clicked = clicks.drop_duplicates("impression_id").merge(
        served[["event_id", "event_time", "viewer_id"]].rename(
            columns={"event_id": "impression_id", "event_time": "served_at"}
        ),
        on=["impression_id", "viewer_id"],
    )
    window = _Window(keys["minute"], timeout_s)
    viewers = keys["viewer_id"]
    clicks_in, fastest = _clicks(window, viewers, clicked)
    return keys.assign(
        impressions=window.count(viewers, served["viewer_id"], served["event_time"]),
        clicks=clicks_in,
        fastest_click_s=np.clip(fastest, 0, NO_CLICK_S),
    )


def _clicks(window: _Window, viewers: pd.Series, clicked: pd.DataFrame):
    """Per window: the viewer's clicks in it on ads served in it, and the fastest's delay.
    (Both ends in the window: a minute reads rows from within it only, however wide the
    recomputed range.)"""
    served_at = _us(clicked["served_at"])
    delay = (clicked["event_time"] - clicked["served_at"]).dt.total_seconds().to_numpy()
    counts = np.zeros(len(viewers), dtype=np.int64)
    fastest = np.full(len(viewers), NO_CLICK_S)
    for i, rows in window.rows(viewers, clicked["viewer_id"], clicked["event_time"]):
        rows = rows[served_at[rows] >= window.low[i]]
        counts[i] = len(rows)
        if len(rows):
            fastest[i] = delay[rows].min()
    return counts, fastest


class _Window:
    """Each minute's window: `timeout_s` before the minute to `timeout_s` after it."""

    def __init__(self, minutes: pd.Series, timeout_s: float) -> None:
        margin = np.timedelta64(round(timeout_s * 1e6), "us")
        starts = _us(minutes)
        self.low, self.high = starts - margin, starts + np.timedelta64(60, "s") + margin

    def rows(self, keys, of: pd.Series, times: pd.Series) -> Iterator[tuple[int, np.ndarray]]:
        """For the i-th window and its key (`keys[i]`): the positions of the rows whose key
        (`of`) is that key and whose time is in the window."""
        stamps = _us(times)
        order = np.argsort(stamps, kind="stable")
        grouped = {
            key: np.asarray(rows)
            for key, rows in pd.Series(order).groupby(of.to_numpy()[order]).agg(list).items()
        }
        empty = np.zeros(0, dtype=np.int64)
        for i, key in enumerate(keys):
            rows = grouped.get(key)
            if rows is None:
                yield i, empty
            else:
                low, high = np.searchsorted(stamps[rows], [self.low[i], self.high[i]])
                yield i, rows[low:high]

    def count(self, keys, of: pd.Series, times: pd.Series) -> np.ndarray:
        counts = np.zeros(len(self.low), dtype=np.int64)
        for i, rows in self.rows(keys, of, times):
            counts[i] = len(rows)
        return counts


def _us(times: pd.Series) -> np.ndarray:
    return utc_us(times).dt.tz_localize(None).to_numpy(dtype="datetime64[us]")


def _inputs(features: pd.DataFrame) -> np.ndarray:
    """What the forest sees: counts on a log scale (a bot's 30 ads and a person's 3 differ by
    their ratio), seconds as they are."""
    return np.column_stack([
        np.log1p(features["impressions"].to_numpy(dtype=float)),
        np.log1p(features["clicks"].to_numpy(dtype=float)),
        features["fastest_click_s"].to_numpy(dtype=float),
    ])  # fmt: skip


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
