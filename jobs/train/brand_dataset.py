"""A labelled brand-detection dataset, made from the catalog's logos on real photographs.

Each image is a random view of a photograph (scikit-image's), with 0 to 4 logos pasted at
random size, position, perspective, rotation, blur, opacity and occlusion (by a passing figure
or by another logo, as in a broadcast), then lighting
changes, sensor noise and JPEG artefacts over the whole image. Labels are in the YOLO format
(`class cx cy w h`, normalised). Deterministic for a seed; `fingerprint` names exactly what
was generated.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from jobs.common.config import Brand
from jobs.sample_media.broadcast import (
    BACKGROUNDS,
    PastedLogo,
    load_background,
    paste_logo,
    visible_shares,
)
from jobs.sample_media.logos import LOGO_SIZE, render_logo

GENERATOR_VERSION = 2  # bump when the images a seed gives change


@dataclass(frozen=True)
class DatasetSpec:
    images: int
    min_visible: float  # exposure.min_visible_share: a logo showing less is not pasted at all
    image_size: int = 640
    seed: int = 0
    negative_share: float = 0.1
    validation_share: float = 0.2

    def fingerprint(self, brand_ids: list[str]) -> str:
        text = json.dumps(
            {**asdict(self), "brands": brand_ids, "v": GENERATOR_VERSION}, sort_keys=True
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_dataset(spec: DatasetSpec, brands: list[Brand], out_dir: Path) -> Path:
    """Write images and labels under `out_dir`; returns the Ultralytics `data.yaml`."""
    random = np.random.default_rng(spec.seed)
    logos = [render_logo(b) for b in brands]
    photos = [load_background(name) for name in BACKGROUNDS]
    validation = max(1, round(spec.images * spec.validation_share))
    for split in ("train", "val"):
        (out_dir / "images" / split).mkdir(parents=True, exist_ok=True)
        (out_dir / "labels" / split).mkdir(parents=True, exist_ok=True)
    for index in range(spec.images):
        split = "val" if index < validation else "train"
        image, labels = compose(random, photos, logos, spec)
        stem = f"{split}_{index:06d}"
        quality = int(random.integers(35, 96))
        cv2.imwrite(
            str(out_dir / "images" / split / f"{stem}.jpg"),
            cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, quality],
        )
        (out_dir / "labels" / split / f"{stem}.txt").write_text(
            "".join(f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for c, x, y, w, h in labels)
        )
    data = {
        "path": str(out_dir.resolve()),
        "train": "images/train",
        "val": "images/val",
        "names": {i: b.brand_id for i, b in enumerate(brands)},
    }
    data_yaml = out_dir / "data.yaml"
    data_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    return data_yaml


def compose(random: np.random.Generator, photos, logos, spec: DatasetSpec, camera: bool = True):
    """One image (RGB) and its labels [(class, cx, cy, w, h)]; `camera`: lighting and noise."""
    size = spec.image_size
    photo = photos[int(random.integers(len(photos)))]
    rows, cols = photo.shape[:2]
    side = int(random.uniform(0.35, 1.0) * min(rows, cols))
    top, left = int(random.integers(0, rows - side + 1)), int(random.integers(0, cols - side + 1))
    image = cv2.resize(
        photo[top : top + side, left : left + side], (size, size), interpolation=cv2.INTER_AREA
    )
    if random.random() < 0.5:
        image = np.ascontiguousarray(image[:, ::-1])
    drawn: list[tuple[int, PastedLogo]] = []  # in drawing order
    count = 0 if random.random() < spec.negative_share else int(random.integers(1, 5))
    for _ in range(count):
        brand = int(random.integers(len(logos)))
        before = image.copy()
        pasted = paste_logo(image, logos[brand], *_placement(random, size))
        # Logos may cover one another, as a channel's overlay covers a board; a paste that
        # leaves any logo under the line is undone, so no unlabelled logo part is ever shown.
        shares = visible_shares([p for _, p in drawn] + [pasted], (size, size)) if pasted else []
        if not shares or min(shares) < spec.min_visible:
            image = before
            continue
        drawn.append((brand, pasted))
    labels = []
    for brand, pasted in drawn:
        x1, y1, x2, y2 = pasted.box
        box = ((x1 + x2) / 2 / size, (y1 + y2) / 2 / size, (x2 - x1) / size, (y2 - y1) / size)
        labels.append((brand, *box))
    return (_camera_effects(random, image) if camera else image), labels


def _placement(random: np.random.Generator, size: int):
    width = random.uniform(0.06, 0.5) * size
    height = width * LOGO_SIZE[1] / LOGO_SIZE[0]
    cx, cy = random.uniform(0, size), random.uniform(0, size)
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float) * [width / 2, height / 2]
    corners[:, 1] *= 1 + random.uniform(-0.25, 0.25) * np.sign(corners[:, 0])
    corners[:, 0] *= 1 + random.uniform(-0.15, 0.15) * np.sign(corners[:, 1])
    angle = math.radians(random.uniform(-20, 20))
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    corners = corners @ rotation.T + [cx, cy]
    blur = float(random.choice([0.0, 0.0, 0.7, 1.4, 2.2]))
    opacity = float(random.uniform(0.85, 1.0))
    occluder = None
    if random.random() < 0.3:
        occluder = ((cx + random.uniform(-width, width) / 2, cy), height * random.uniform(0.3, 0.7))
    return corners, blur, opacity, occluder


def _camera_effects(random: np.random.Generator, image: np.ndarray) -> np.ndarray:
    gain, bias = random.uniform(0.7, 1.3), random.uniform(-30, 30)
    noisy = image.astype(np.float32) * gain + bias
    noisy += random.normal(0, random.uniform(0, 8), image.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)
