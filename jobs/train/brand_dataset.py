"""A labelled brand-detection dataset: the catalog's logos as broadcasts show them, on scenes
of the training families (`jobs/sample_media/scenes.py`), among made-up logos left unlabelled.

Each image is a crop of a broadcast frame rendered at the detector's inference scale (a
`frame_width`-wide 16:9 frame, the size a 1280x720 frame is resized to at inference), so a
logo is as many pixels wide in training as in a live frame; the detector is convolutional and
runs on the whole frame. Logos go where broadcasts put them: into the scene's own slots (LED
panels, screens, posters), onto free boards in perspective, as corner bugs and in lower
thirds; from 3 % of the frame width up, blurred or streaked by a pan, faded, partly covered.
Then the camera: motion blur, resolution loss, lighting, sensor noise; JPEG at broadcast
qualities when written. Labels are YOLO's (`class cx cy w h`, normalised); a logo shows at
least `min_visible` of itself or nothing. Deterministic for a seed; `fingerprint` names
exactly what was generated.
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
from jobs.sample_media.broadcast import PastedLogo, motion_kernel, paste_logo, visible_shares
from jobs.sample_media.logos import LOGO_SIZE, render_logo
from jobs.sample_media.scenes import FAMILIES, Backdrop, render_distractor

GENERATOR_VERSION = 3  # bump when the images a seed gives change

Window = tuple[int, int, int, int]


@dataclass(frozen=True)
class DatasetSpec:
    images: int
    min_visible: float  # exposure.min_visible_share: a logo showing less is not pasted at all
    families: tuple[str, ...] = ("photo",)  # scene families the images are drawn from
    image_size: int = 320  # the crop a training image is
    frame_width: int = 640  # the frame it is cropped from (the inference size)
    seed: int = 0
    negative_share: float = 0.15  # images without any catalog logo
    validation_share: float = 0.15

    def fingerprint(self, brand_ids: list[str]) -> str:
        text = json.dumps(
            {**asdict(self), "brands": brand_ids, "v": GENERATOR_VERSION}, sort_keys=True
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_dataset(spec: DatasetSpec, brands: list[Brand], out_dir: Path, progress=None) -> Path:
    """Write images and labels under `out_dir`; returns the Ultralytics `data.yaml`.
    `progress(done, total)` is called every 500 images."""
    validation = max(1, round(spec.images * spec.validation_share))
    for split in ("train", "val"):
        (out_dir / "images" / split).mkdir(parents=True, exist_ok=True)
        (out_dir / "labels" / split).mkdir(parents=True, exist_ok=True)
    for index, (image, labels, quality) in enumerate(generate_images(spec, brands)):
        split = "val" if index < validation else "train"
        stem = f"{split}_{index:06d}"
        cv2.imwrite(
            str(out_dir / "images" / split / f"{stem}.jpg"),
            cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, quality],
        )
        (out_dir / "labels" / split / f"{stem}.txt").write_text(label_text(labels))
        if progress and (index + 1) % 500 == 0:
            progress(index + 1, spec.images)
    data = {
        "path": str(out_dir.resolve()),
        "train": "images/train",
        "val": "images/val",
        "names": {i: b.brand_id for i, b in enumerate(brands)},
    }
    data_yaml = out_dir / "data.yaml"
    data_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    return data_yaml


def generate_images(spec: DatasetSpec, brands: list[Brand], count: int | None = None):
    """(image, labels, JPEG quality) for the spec's images in order (the first `count`)."""
    random = np.random.default_rng(spec.seed)
    logos = [render_logo(b) for b in brands]
    for _ in range(spec.images if count is None else min(count, spec.images)):
        image, labels = compose(random, logos, brands, spec)
        yield image, labels, int(random.integers(25, 96))


def label_text(labels) -> str:
    """A YOLO label file's text."""
    return "".join(f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for c, x, y, w, h in labels)


def label_digest(spec: DatasetSpec, brands: list[Brand], count: int = 20) -> str:
    """A digest of the labels of the spec's first `count` images: it changes when the
    generator's output does (the fingerprint names only the spec and the version number)."""
    texts = (label_text(labels) for _, labels, _ in generate_images(spec, brands, count))
    return hashlib.sha256("".join(texts).encode()).hexdigest()[:16]


def compose(
    random: np.random.Generator,
    logos: list[np.ndarray],
    brands: list[Brand],
    spec: DatasetSpec,
    camera: bool = True,
    backdrop: Backdrop | None = None,
):
    """One training image (RGB, `image_size` square) and its labels [(class, cx, cy, w, h)];
    `camera`: blur, lighting and noise over the frame; `backdrop`: the frame's scene (default:
    one drawn from `spec.families`)."""
    width, size = spec.frame_width, spec.image_size
    height = round(width * 9 / 16)
    if backdrop is None:
        family = spec.families[int(random.integers(len(spec.families)))]
        backdrop = FAMILIES[family](random, height, width)
    image = backdrop.image.copy()
    left = int(random.integers(0, width - size + 1))
    top = int(random.integers(0, height - size + 1))
    window = (left, top, left + size, top + size)

    brand_count = 0 if random.random() < spec.negative_share else int(random.integers(1, 5))
    distractor_count = int(random.integers(0, 5)) if random.random() < 0.7 else 0
    items = [int(random.integers(len(logos))) for _ in range(brand_count)]
    items += [None] * distractor_count
    drawn: list[tuple[int | None, PastedLogo]] = []  # in drawing order; None: a distractor
    for order in random.permutation(len(items)):
        item = items[order]
        logo = logos[item] if item is not None else render_distractor(random, brands, "train")
        before = image.copy()
        # Catalog logos go where the crop sees them; made-up ones anywhere in the frame.
        area = window if item is not None else (0, 0, width, height)
        pasted = _paste(random, image, logo, backdrop, area, width)
        if pasted is None:
            image = before
            continue
        candidate = [*drawn, (item, pasted)]
        shares = visible_shares([p for _, p in candidate], (height, width), window)
        # Logos may cover one another, as a channel's overlay covers a board; a paste that
        # leaves any catalog logo partly shown under the line is undone, so no unlabelled part
        # of a catalog logo is ever in an image.
        if any(
            0 < share < spec.min_visible
            for (brand, _), share in zip(candidate, shares, strict=True)
            if brand is not None
        ):
            image = before
            continue
        drawn = candidate
    shares = visible_shares([p for _, p in drawn], (height, width), window)
    labels = []
    for (brand, pasted), share in zip(drawn, shares, strict=True):
        if brand is None or share < spec.min_visible:
            continue
        x1, y1, x2, y2 = pasted.box
        x1, y1 = max(x1, left) - left, max(y1, top) - top
        x2, y2 = min(x2, left + size) - left, min(y2, top + size) - top
        labels.append(
            (brand, (x1 + x2) / 2 / size, (y1 + y2) / 2 / size, (x2 - x1) / size, (y2 - y1) / size)
        )
    if camera:
        image = _camera_effects(random, image)
    return np.ascontiguousarray(image[top : top + size, left : left + size]), labels


def _paste(
    random: np.random.Generator,
    image: np.ndarray,
    logo: np.ndarray,
    backdrop: Backdrop,
    area: Window,
    frame_width: int,
) -> PastedLogo | None:
    """Paste `logo` the way a broadcast shows one, centred in `area`."""
    x1, y1, x2, y2 = area
    inside = [q for q in backdrop.slots if x1 <= q[:, 0].mean() < x2 and y1 <= q[:, 1].mean() < y2]
    mode = random.choice(["slot", "board", "bug", "lower_third"], p=[0.4, 0.35, 0.15, 0.1])
    if mode == "slot" and inside:
        corners = inside[int(random.integers(len(inside)))].copy()
        corners += random.uniform(-0.03, 0.03, (4, 2)) * (corners[1, 0] - corners[0, 0])
    elif mode == "bug":
        width = random.uniform(0.06, 0.16) * frame_width
        margin = random.uniform(0.01, 0.04) * frame_width
        x = x1 + margin if random.random() < 0.5 else x2 - margin - width
        y = y1 + margin if random.random() < 0.5 else y2 - margin - width / _aspect()
        corners = _rectangle(x, y, width)
    elif mode == "lower_third":
        height = random.uniform(0.05, 0.1) * frame_width * 9 / 16
        y = y2 - height - random.uniform(0.02, 0.12) * (y2 - y1)
        bar = (x1 + int(random.uniform(0, 0.1) * (x2 - x1)), int(y), x2, int(y + height))
        cv2.rectangle(
            image, bar[:2], bar[2:], tuple(int(v) for v in random.integers(0, 256, 3)), -1
        )
        corners = _rectangle(bar[0] + 2, y + 0.1 * height, 0.8 * height * _aspect())
    else:
        corners = _board(random, area, frame_width)
    blur = float(random.choice([0.0, 0.0, 0.0, 0.5, 1.0, 1.6]))
    motion = (0.0, 0.0)
    if random.random() < 0.25:
        angle = random.uniform(-15, 15) if random.random() < 0.8 else random.uniform(0, 180)
        motion = (float(random.uniform(3, 14)), float(angle))
    opacity = float(random.uniform(0.55, 0.9) if random.random() < 0.3 else random.uniform(0.9, 1))
    occluder = None
    if random.random() < 0.25:
        width = float(np.ptp(corners[:, 0]))
        height = float(np.ptp(corners[:, 1]))
        centre = corners.mean(axis=0) + np.array([random.uniform(-0.5, 0.5) * width, 0])
        occluder = (tuple(centre), height * random.uniform(0.3, 0.7))
    return paste_logo(image, logo, corners, blur, opacity, occluder, motion)


def _aspect() -> float:
    return LOGO_SIZE[0] / LOGO_SIZE[1]


def _rectangle(x: float, y: float, width: float) -> np.ndarray:
    height = width / _aspect()
    return np.float32([[x, y], [x + width, y], [x + width, y + height], [x, y + height]])


def _board(random: np.random.Generator, area: Window, frame_width: int) -> np.ndarray:
    """A board in perspective, 3 % to 35 % of the frame wide (smaller ones as often as larger
    ones), centred in `area`."""
    width = math.exp(random.uniform(math.log(0.03), math.log(0.35))) * frame_width
    height = width / _aspect()
    cx, cy = random.uniform(area[0], area[2]), random.uniform(area[1], area[3])
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float) * [width / 2, height / 2]
    corners[:, 1] *= 1 + random.uniform(-0.25, 0.25) * np.sign(corners[:, 0])
    corners[:, 0] *= 1 + random.uniform(-0.15, 0.15) * np.sign(corners[:, 1])
    angle = math.radians(random.uniform(-15, 15))
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return corners @ rotation.T + [cx, cy]


def _camera_effects(random: np.random.Generator, image: np.ndarray) -> np.ndarray:
    if random.random() < 0.15:  # a fast pan smears the whole frame
        image = cv2.filter2D(
            image, -1, motion_kernel(random.uniform(3, 12), random.uniform(-10, 10))
        )
    if random.random() < 0.2:  # a lower-resolution source, scaled up
        factor = random.uniform(0.45, 0.8)
        small = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        image = cv2.resize(small, image.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    gain, bias = random.uniform(0.7, 1.3), random.uniform(-30, 30)
    noisy = image.astype(np.float32) * gain + bias
    noisy += random.normal(0, random.uniform(0, 8), image.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)
