"""The brand detector's retraining pipeline, step by step (the `brand_detector_training` DAG):

1. `build_dataset`: the profile's synthetic dataset (built once per fingerprint);
2. `label_gate`: Great Expectations on its labels (boxes inside the image, classes of the
   catalog, every brand present, the share of images without a logo); a failure stops the run;
3. `train_candidate`: train and register a new version, without moving the alias;
4. `evaluate`: the candidate and the champion on the same evidence: Ultralytics validation on
   the dataset's held-out images (mAP50), and broadcasts rendered from the held-out scene
   families with a seed no test uses, analysed by the real `analyse_segment` and scored
   against their truth (brand-frame precision and recall, screen-seconds error per brand);
5. `decide`: the rule in `train.promotion`: promote only when the candidate's mAP50 is
   better and it is no worse on the broadcast; the decision and its reasons are tags of the
   candidate's version, its metrics those of its run, and only then does the alias move.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from jobs.common.config import Settings
from jobs.common.registry import (
    champion,
    check_registry,
    promote,
    record_evaluation,
    version_weights,
)
from jobs.train.brand_detector import dataset_for, train_brand_detector

log = logging.getLogger("brandlake.train")


class GateError(RuntimeError):
    """The training set failed its label gate; the message names the expectations and rows."""


def build_dataset(settings: Settings, profile: str) -> str:
    """The profile's dataset (`data.yaml`), built if it is not there yet; first of all, the
    registry must answer (an hour of training is not spent for a run that cannot register)."""
    check_registry(settings)
    data_yaml, _ = dataset_for(settings, profile)
    return str(data_yaml)


def label_rows(data_yaml: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per label: image, class, box corners; one row per image: whether it has none)."""
    labels, images = [], []
    for folder in sorted((data_yaml.parent / "labels").iterdir()):
        for path in sorted(folder.glob("*.txt")):
            lines = [x.split() for x in path.read_text().splitlines() if x.strip()]
            images.append({"image": path.stem, "negative": not lines})
            for cls, cx, cy, w, h in lines:
                cx, cy, w, h = float(cx), float(cy), float(w), float(h)
                labels.append(
                    {"image": path.stem, "class": int(cls), "x1": cx - w / 2, "y1": cy - h / 2,
                     "x2": cx + w / 2, "y2": cy + h / 2}
                )  # fmt: skip
    return pd.DataFrame(labels), pd.DataFrame(images)


def label_gate(settings: Settings, data_yaml: str, negative_share: float) -> dict:
    """Validate the dataset's labels with Great Expectations; raises GateError on a failure."""
    import great_expectations.expectations as gxe

    from jobs.quality.checks import Check
    from jobs.quality.run import summary, validate

    labels, images = label_rows(Path(data_yaml))
    classes = list(range(len(settings.catalog.brands)))
    edge = 1e-3  # labels are written with 6 decimals
    checks = [
        Check(
            "training labels",
            "training set",
            labels,
            [
                gxe.ExpectColumnValuesToBeInSet(column="class", value_set=classes),
                gxe.ExpectColumnDistinctValuesToContainSet(column="class", value_set=classes),
                *(
                    gxe.ExpectColumnValuesToBeBetween(column=c, min_value=-edge, max_value=1 + edge)
                    for c in ("x1", "y1", "x2", "y2")
                ),
            ],
            ["image", "class"],
        ),
        Check(
            "training images",
            "training set",
            images,
            [
                gxe.ExpectColumnMeanToBeBetween(
                    column="negative", min_value=negative_share / 2, max_value=negative_share * 2
                )
            ],
            ["image"],
        ),
    ]
    root = Path(settings.run_dir) / "great_expectations"
    outcomes = validate(checks, root, settings.data_quality.sample_rows, docs=False)
    if any(not o.success for o in outcomes):
        raise GateError(f"training set {data_yaml}: {summary(outcomes)}")
    return {"labels": len(labels), "images": len(images)}


def train_candidate(settings: Settings, profile: str, device: str | None = None) -> str:
    """Train and register a candidate version (the alias stays); returns the version."""
    return train_brand_detector(settings, profile, device, promote=False).version


@dataclass(frozen=True)
class Evidence:
    """What the promotion rule compares: mAP50 on the held-out images, and the broadcasts'
    brand-frame precision, recall and worst per-brand screen-seconds error (absolute)."""

    map50: float
    precision: float
    recall: float
    seconds_error: float
    seconds_errors: dict[str, float]

    def metrics(self) -> dict[str, float]:
        return {
            "val_map50": self.map50,
            "broadcast_precision": self.precision,
            "broadcast_recall": self.recall,
            "broadcast_max_seconds_error": self.seconds_error,
            **{f"broadcast_seconds_error_{b}": e for b, e in self.seconds_errors.items()},
        }


def evaluate(settings: Settings, weights: Path, data_yaml: str, image_size: int) -> Evidence:
    """The evidence on `weights`: validation on the dataset's held-out images at the size it
    was trained at, and the promotion broadcasts at the configured inference size."""
    from ultralytics import YOLO

    from jobs.train.generalisation import BroadcastScore, brand_analyzers, render, score_broadcast
    from udfs.devices import torch_device

    conf = settings.train.promotion
    detector = settings.models.brand_detector
    validation = YOLO(str(weights)).val(
        data=data_yaml,
        imgsz=image_size,
        batch=16,
        device=torch_device(),
        plots=False,
        verbose=False,
    )
    analyzers = brand_analyzers(settings, weights, detector.image_size, detector.confidence)
    folder = Path(settings.train.work_dir) / "promotion"
    total = BroadcastScore("promotion", 0.0)
    for family in settings.train.families.held_out:
        segments, truth = render(
            settings, family, conf.broadcast_seed, conf.broadcast_seconds, folder
        )
        total.add(
            score_broadcast(f"{family}-{conf.broadcast_seed}", segments, truth, analyzers, settings)
        )
    errors = total.seconds_errors()
    return Evidence(
        map50=float(validation.box.map50),
        precision=total.precision,
        recall=total.recall,
        seconds_error=max((abs(e) for e in errors.values()), default=0.0),
        seconds_errors=errors,
    )


def decide(
    candidate: Evidence, current: Evidence | None, settings: Settings
) -> tuple[bool, list[str]]:
    """Whether the candidate replaces the champion under `train.promotion`, and why."""
    if current is None:
        return True, ["no champion yet"]
    rule = settings.train.promotion
    c, k = candidate, current
    checks = [
        (c.map50 > k.map50 + rule.min_map50_gain,
         f"mAP50 {c.map50:.3f} vs {k.map50:.3f} (must gain over {rule.min_map50_gain:g})"),
        (c.precision >= k.precision - rule.max_precision_drop,
         f"broadcast precision {c.precision:.3f} vs {k.precision:.3f} "
         f"(may drop {rule.max_precision_drop:g})"),
        (c.recall >= k.recall - rule.max_recall_drop,
         f"broadcast recall {c.recall:.3f} vs {k.recall:.3f} (may drop {rule.max_recall_drop:g})"),
        (c.seconds_error <= k.seconds_error + rule.max_seconds_error_increase,
         f"worst screen-seconds error {c.seconds_error:.1%} vs {k.seconds_error:.1%} "
         f"(may grow {rule.max_seconds_error_increase:g})"),
    ]  # fmt: skip
    reasons = [("ok: " if ok else "worse: ") + text for ok, text in checks]
    return all(ok for ok, _ in checks), reasons


def evaluate_and_decide(settings: Settings, version: str, data_yaml: str, profile: str) -> dict:
    """Evaluate candidate `version` and the champion, record both evidences and the decision on
    the candidate, and move the alias when the rule says so."""
    from jobs.common.registry import NoChampionError

    name = settings.models.brand_detector.name
    image_size = settings.train.profiles[profile].image_size
    candidate = evaluate(settings, version_weights(settings, name, version), data_yaml, image_size)
    try:
        current_ref = champion(settings, name)
    except NoChampionError:
        current_ref = None
    current = (
        evaluate(settings, current_ref.weights, data_yaml, image_size) if current_ref else None
    )
    promoted, reasons = decide(candidate, current, settings)
    record_evaluation(
        settings,
        name,
        version,
        metrics=candidate.metrics(),
        tags={
            "promotion.decision": "promoted" if promoted else "rejected",
            "promotion.reasons": "; ".join(reasons),
            "promotion.champion_version": current_ref.version if current_ref else "",
            **{
                f"promotion.champion_{k}": f"{v:.4f}"
                for k, v in (current.metrics() if current else {}).items()
            },
        },
    )
    if promoted:
        try:
            promote(settings, name, version)
        except Exception as err:
            # the version says so rather than claiming a promotion that did not happen
            record_evaluation(settings, name, version, {}, {"promotion.decision": f"failed: {err}"})
            raise
    log.info(
        "%s v%s %s: %s", name, version, "promoted" if promoted else "rejected", "; ".join(reasons)
    )
    return {"version": version, "promoted": promoted, "reasons": reasons, **candidate.metrics()}
