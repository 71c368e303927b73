"""Train the CTR model the ad server ranks cpc bids with, and promote it only when it is better.

    brandlake train ctr-model [--set models.ctr_model.lookback_hours=48]

1. extract: the filled auctions (impressions) of the last `models.ctr_model.lookback_hours` from
   `bronze.auctions` and the clicks from `bronze.viewer_events` (Spark over the Delta tables).
2. transform: each impression's context as tokens and its click label (`jobs/ctr/features.py`),
   split by time: the newest `test_share` is the test set.
3. train: the factorization machine and the logistic-regression baseline on the older part
   (`jobs/ctr/model.py`); both, and the current champion, scored on the test set: AUC, log loss,
   normalised entropy, calibration per slot type and device (predicted / observed clicks, and
   predicted / expected clicks under the simulator's true click probabilities, which the test
   clicks' own noise does not blur). Next to them the AUC of the true probabilities on the same
   rows: the most any model can reach.
4. load: the model registered in MLflow as `ctr-model` with every figure; the alias moves to it
   only when its AUC beats both the baseline's and the champion's on the same test rows. The
   figures also go to `gold.ctr_model_evaluation` (the dashboard's Yield page).
"""

from __future__ import annotations

import logging
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.auction.market import Opportunity, Screen, true_ctr
from jobs.common.config import Settings
from jobs.common.lake import append_rows
from jobs.common.registry import NoChampionError, champion, promote, register_weights
from jobs.ctr.features import feature_rows, label_clicks
from jobs.ctr.model import (
    ClickModel,
    metrics,
    train_factorization_machine,
    train_logistic_baseline,
)
from jobs.train.command import run_trainer
from schemas.tables import BRONZE_TABLES, CTR_MODEL_EVALUATION

log = logging.getLogger("brandlake.ctr")
AUCTION_COLUMNS = ["event_id", "event_time", "stream_id", "viewer_id", "slot_type", "device",
                   "geo", "scene_label", "safety_score", "brands_on_screen", "top_campaign_id",
                   "filled"]  # fmt: skip


class NotEnoughDataError(RuntimeError):
    """Too few impressions or clicks to train and test on; the message says what there is."""


def extract(spark: SparkSession, settings: Settings, since: datetime):
    """(filled auctions, clicks) from `since` on, as pandas."""

    def recent(name: str):
        return (
            spark.read.format("delta")
            .load(settings.table_uri(BRONZE_TABLES[name].name))
            .where(F.col("event_date") >= F.lit(since.date()))
            .where(F.col("event_time") >= F.lit(since))
        )

    auctions = recent("auctions").where(F.col("filled")).select(*AUCTION_COLUMNS).toPandas()
    clicks = (
        recent("viewer_events")
        .where(F.col("event_type") == "click")
        .select("event_time", "viewer_id", "campaign_id", "impression_id")
        .toPandas()
    )
    for frame in (auctions, clicks):
        frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True)
    return auctions, clicks


def training_data(auctions: pd.DataFrame, clicks: pd.DataFrame, settings: Settings):
    """Feature rows in time order and their click labels."""
    rows = feature_rows(auctions, settings.catalog, settings.yield_optimization.safety_bands)
    rows = rows.sort_values("event_time", kind="stable").reset_index(drop=True)
    labels = label_clicks(rows, clicks, settings.models.ctr_model.attribution_minutes)
    return rows, labels.to_numpy()


def true_probabilities(rows: pd.DataFrame, settings: Settings) -> np.ndarray:
    """The simulator's own click probability of each row (it knows; no model does)."""
    campaigns = {c.campaign_id: c for c in settings.catalog.campaigns}
    clicks = settings.simulate.clicks
    out = []
    for row in rows[["slot", "device", "geo", "stream", "scene", "campaign", "brands",
                     "event_time"]].to_dict("records"):  # fmt: skip
        scene = None if row["scene"] == "unknown" else row["scene"]
        screen = Screen(tuple(row["brands"]), scene)
        opportunity = Opportunity("", row["event_time"], row["stream"], "", row["slot"],
                                  row["device"], row["geo"], screen)  # fmt: skip
        out.append(true_ctr(clicks, opportunity, campaigns[row["campaign"]]))
    return np.array(out)


def train_ctr_model(settings: Settings, now: datetime | None = None) -> dict:
    """extract -> transform -> train -> load (see the module docstring); returns the report."""
    from jobs.common.spark import build_session

    started = time.monotonic()
    conf = settings.models.ctr_model
    now = now or datetime.now(UTC)
    spark = build_session(settings, "ctr_model_training")
    auctions, clicks = extract(spark, settings, now - timedelta(hours=conf.lookback_hours))
    rows, labels = training_data(auctions, clicks, settings)
    cut = round(len(rows) * (1 - conf.test_share))
    if cut < 1000 or labels[:cut].sum() < 20 or labels[cut:].sum() < 5:
        raise NotEnoughDataError(
            f"{len(rows)} impressions with {int(labels.sum())} clicks in the last "
            f"{conf.lookback_hours:g} h: too few to train and test a CTR model (simulate more "
            "traffic, or raise models.ctr_model.lookback_hours)"
        )
    train, test = rows.iloc[:cut], rows.iloc[cut:].reset_index(drop=True)
    y_train, y_test = labels[:cut], labels[cut:]
    log.info("%d impressions (%d clicks) to train on, %d to test on", len(train),
             int(y_train.sum()), len(test))  # fmt: skip
    model = train_factorization_machine(train, y_train, conf.embedding_dim, conf.epochs,
                                        conf.batch, conf.learning_rate, seed=7)  # fmt: skip
    baseline = train_logistic_baseline(train, y_train)
    truth = true_probabilities(test, settings)
    scores = {
        "candidate": metrics(model.predict(test), y_test, test, truth),
        "baseline": metrics(baseline(test), y_test, test, truth),
        "truth": metrics(truth, y_test, test, truth),
    }
    try:
        current = champion(settings, conf.name)
        found = ClickModel.load(current.weights).predict(test)
        scores["champion"] = metrics(found, y_test, test, truth)
        champion_label = current.label
    except NoChampionError:
        champion_label = None
    report = decide(scores)
    report.update(champion=champion_label, train_rows=len(train), test_rows=len(test),
                  clicks=int(labels.sum()))  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        weights = model.save(Path(folder) / "ctr-model.pt")
        registration = register_weights(
            settings, conf.name, weights, score=scores["candidate"]["auc"],
            params={**conf.model_dump(), "train_rows": len(train), "test_rows": len(test)},
            metrics={f"{who}_{k}": v for who, found in scores.items() for k, v in found.items()},
            tags={"promotion.decision": "promoted" if report["promote"] else "kept champion",
                  "promotion.reasons": "; ".join(report["reasons"])},
            promote=False, score_name="auc",
        )  # fmt: skip
    if report["promote"]:
        promote(settings, conf.name, registration.version)
    append_rows(settings, CTR_MODEL_EVALUATION, [
        {"version": registration.version, "scored": who, "metric": metric, "value": value,
         "promoted": report["promote"], "created_at": now}
        for who, found in scores.items() for metric, value in found.items()
    ])  # fmt: skip
    report.update(version=registration.version, seconds=round(time.monotonic() - started, 1))
    return report


def decide(scores: dict[str, dict[str, float]]) -> dict:
    """Promote when the candidate's AUC beats the baseline's and the champion's (if any)."""
    auc = scores["candidate"]["auc"]
    reasons = [f"AUC {auc:.4f} vs baseline {scores['baseline']['auc']:.4f}"]
    better = auc > scores["baseline"]["auc"]
    if "champion" in scores:
        reasons.append(f"vs champion {scores['champion']['auc']:.4f}")
        better = better and auc > scores["champion"]["auc"]
    reasons.append(f"true-probability AUC {scores['truth']['auc']:.4f}")
    return {"promote": better, "reasons": reasons, "scores": scores}


def main(argv: list[str] | None = None) -> dict:
    return run_trainer(
        argv, "ctr-model", __doc__.split("\n\n")[0], train_ctr_model,
        lambda found: f"AUC {found['auc']:.4f}  log loss {found['log_loss']:.5f}  "
        f"NE {found['normalised_entropy']:.4f}  calibration {found['calibration']:.3f}",
    )  # fmt: skip


if __name__ == "__main__":
    main()
