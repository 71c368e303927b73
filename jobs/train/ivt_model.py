"""Train the learnt invalid-traffic score, and promote it only when it is no worse.

    brandlake train ivt-model [--set models.ivt_model.lookback_hours=48]

1. extract: the last `models.ivt_model.lookback_hours` of `silver.impressions`, `silver.clicks`
   and `silver.player_events` (as exposure_revenue judged them: late rows left out).
2. transform: per stream, each viewer-minute with impressions as the score's features, with the
   rules' verdict (`jobs.audience.ivt.rule_checked_features`); split by minute: the newest
   `test_share` of minutes is the test set.
3. train: an isolation forest on the older viewer-minutes the rules passed, flagging the
   `flag_share` most unusual of them (`jobs/audience/anomaly.py`). Scored on the test set, and
   the champion with it: the share of rule-passed viewer-minutes it flags (about `flag_share`
   when the traffic has not changed) and the share of the rules' own catches it finds unusual
   too (`rule_recall`). No labels exist in the lake, so the rules' catches are the known bad:
   a score that stops seeing them as unusual has lost its sense of normal.
4. load: registered in MLflow as `ivt-model` with every figure; the alias moves to it when
   there is no champion, or when its rule recall is at least the champion's and it flags at
   most twice `flag_share`. exposure_revenue scores with the champion from its next start.
"""

from __future__ import annotations

import logging
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds

from jobs.audience.anomaly import AnomalyModel, fit
from jobs.audience.ivt import CLICK_COLUMNS, IMPRESSION_COLUMNS, rule_checked_features
from jobs.audience.metrics import PLAYER_COLUMNS, beacons
from jobs.common.config import Settings
from jobs.common.lake import OpenTables
from jobs.common.registry import NoChampionError, champion, promote, register_weights
from jobs.train.command import run_trainer
from schemas.tables import CLICKS, IMPRESSION_LOG, PLAYER_EVENTS

log = logging.getLogger("brandlake.ivt")


class NotEnoughDataError(RuntimeError):
    """Too few viewer-minutes to train and test on; the message says how many there are."""


def extract(settings: Settings, since: datetime, until: datetime) -> dict[str, pd.DataFrame]:
    """Impressions, clicks and player events of [since, until), as pandas, late rows left out."""
    tables = OpenTables(settings)
    when = (ds.field("event_time") >= since) & (ds.field("event_time") < until) & ~ds.field("late")
    found = {}
    for key, table, columns in (
        ("impressions", IMPRESSION_LOG, [*IMPRESSION_COLUMNS, "stream_id"]),
        ("clicks", CLICKS, [*CLICK_COLUMNS, "stream_id"]),
        ("beacons", PLAYER_EVENTS, PLAYER_COLUMNS),
    ):
        rows = tables.read(table.name, columns, when)
        if rows is None:
            raise NotEnoughDataError(f"{table.name} does not exist yet: run exposure-revenue first")
        found[key] = rows.to_pandas().drop_duplicates("event_id")
    return found


def viewer_minutes(settings: Settings, rows: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every stream's viewer-minutes with impressions: features, the rules' verdict, stream."""
    audience = settings.audience
    judged = []
    for stream, impressions in rows["impressions"].groupby("stream_id"):
        of_stream = [rows[key][rows[key]["stream_id"] == stream] for key in ("clicks", "beacons")]
        judged.append(
            rule_checked_features(
                impressions, of_stream[0], beacons(of_stream[1]), audience.invalid_traffic,
                audience.session_timeout_s,
            ).assign(stream_id=stream)
        )  # fmt: skip
    return pd.concat(judged, ignore_index=True) if judged else pd.DataFrame()


def evaluate(model: AnomalyModel, test: pd.DataFrame) -> dict[str, float]:
    """The share of rule-passed viewer-minutes the model flags, and of the rules' catches."""
    flagged = model.scores(test) >= model.threshold
    passed = test["rules"].isna().to_numpy()
    return {
        "flagged_share": float(flagged[passed].mean()) if passed.any() else 0.0,
        "rule_recall": float(flagged[~passed].mean()) if (~passed).any() else 0.0,
    }


def decide(scores: dict[str, dict[str, float]], flag_share: float) -> dict:
    """Promote when there is no champion, or the candidate sees at least as many of the rules'
    catches as unusual and flags at most twice `flag_share` of the rest."""
    candidate = scores["candidate"]
    reasons = [f"rule recall {candidate['rule_recall']:.3f}, "
               f"flags {candidate['flagged_share']:.2%} of rule-passed viewer-minutes"]  # fmt: skip
    sane = candidate["flagged_share"] <= 2 * flag_share
    if not sane:
        reasons.append(f"more than twice flag_share ({flag_share:.2%})")
    better = True
    if "champion" in scores:
        reasons.append(f"champion's rule recall {scores['champion']['rule_recall']:.3f}")
        better = candidate["rule_recall"] >= scores["champion"]["rule_recall"]
    return {"promote": sane and better, "reasons": reasons, "scores": scores}


def train_ivt_model(settings: Settings, now: datetime | None = None) -> dict:
    """extract -> transform -> train -> load (see the module docstring); returns the report."""
    started = time.monotonic()
    conf = settings.models.ivt_model
    now = now or datetime.now(UTC)
    rows = extract(settings, now - timedelta(hours=conf.lookback_hours), now)
    judged = viewer_minutes(settings, rows)
    if len(judged) < conf.min_viewer_minutes:
        raise NotEnoughDataError(
            f"{len(judged)} viewer-minutes with impressions in the last {conf.lookback_hours:g} h:"
            f" fewer than models.ivt_model.min_viewer_minutes ({conf.min_viewer_minutes})"
        )
    minutes = sorted(judged["minute"].unique())
    cut = minutes[min(len(minutes) - 1, round(len(minutes) * (1 - conf.test_share)))]
    train, test = judged[judged["minute"] < cut], judged[judged["minute"] >= cut]
    clean = train[train["rules"].isna()]
    log.info("%d viewer-minutes (%d the rules passed) to train on, %d to test on",
             len(train), len(clean), len(test))  # fmt: skip
    model = fit(clean, conf.flag_share, conf.trees, seed=7)
    scores = {"candidate": evaluate(model, test)}
    try:
        current = champion(settings, conf.name)
        scores["champion"] = evaluate(AnomalyModel.load(current.weights, current.label), test)
        champion_label = current.label
    except NoChampionError:
        champion_label = None
    report = decide(scores, conf.flag_share)
    report.update(champion=champion_label, train_rows=len(clean), test_rows=len(test),
                  threshold=model.threshold)  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        registration = register_weights(
            settings, conf.name, model.save(Path(folder) / f"{conf.name}.pkl"),
            score=scores["candidate"]["rule_recall"],
            params={**conf.model_dump(), "threshold": model.threshold, "train_rows": len(clean),
                    "test_rows": len(test)},
            metrics={f"{who}_{k}": v for who, found in scores.items() for k, v in found.items()},
            tags={"promotion.decision": "promoted" if report["promote"] else "kept champion",
                  "promotion.reasons": "; ".join(report["reasons"])},
            promote=False, score_name="rule_recall",
        )  # fmt: skip
    if report["promote"]:
        promote(settings, conf.name, registration.version)
    report.update(version=registration.version, seconds=round(time.monotonic() - started, 1))
    return report


def main(argv: list[str] | None = None) -> dict:
    return run_trainer(
        argv, "ivt-model", __doc__.split("\n\n")[0], train_ivt_model,
        lambda found: f"flags {found['flagged_share']:.2%} of rule-passed viewer-minutes, "
        f"rule recall {found['rule_recall']:.3f}",
    )  # fmt: skip


if __name__ == "__main__":
    main()
