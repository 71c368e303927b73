"""The synthetic brand-detection dataset: YOLO labels that say where the pasted logos are."""

from __future__ import annotations

import hashlib

import numpy as np
import yaml

from jobs.common.config import load_settings
from jobs.sample_media.broadcast import PastedLogo, paste_logo, visible_shares
from jobs.sample_media.logos import render_logo
from jobs.train import brand_dataset
from jobs.train.brand_dataset import DatasetSpec, build_dataset, compose


def digest(folder) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".jpg", ".txt"))
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


def test_dataset_layout_labels_and_determinism(tmp_path):
    settings = load_settings()
    brands, line = settings.catalog.brands, settings.exposure.min_visible_share
    spec = DatasetSpec(images=30, min_visible=line, image_size=320, seed=4)
    data_yaml = build_dataset(spec, brands, tmp_path / "a")
    build_dataset(spec, brands, tmp_path / "b")
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    data = yaml.safe_load(data_yaml.read_text())
    assert data["names"] == {i: b.brand_id for i, b in enumerate(brands)}
    images = sorted((tmp_path / "a" / "images").rglob("*.jpg"))
    labels = sorted((tmp_path / "a" / "labels").rglob("*.txt"))
    assert len(images) == len(labels) == 30
    assert len(list((tmp_path / "a" / "images" / "val").glob("*.jpg"))) == 6
    rows = [line.split() for path in labels for line in path.read_text().splitlines()]
    assert len(rows) > 30
    for brand, *box in rows:
        assert 0 <= int(brand) < len(brands)
        cx, cy, w, h = map(float, box)
        assert 0 < w <= 1 and 0 < h <= 1
        # Labels are written with 6 decimals.
        assert cx - w / 2 >= -1e-5 and cx + w / 2 <= 1 + 1e-5
        assert cy - h / 2 >= -1e-5 and cy + h / 2 <= 1 + 1e-5
    other_seed = DatasetSpec(images=30, min_visible=line, image_size=320, seed=5)
    assert spec.fingerprint([b.brand_id for b in brands]) != other_seed.fingerprint(
        [b.brand_id for b in brands]
    )


def test_label_boxes_are_where_the_logos_were_pasted():
    """On a flat gray photograph without camera effects: every label box is mostly logo, and
    nothing but logos (and the dark occluders passing in front of them) changes the gray."""
    settings = load_settings()
    logos = [render_logo(b) for b in settings.catalog.brands]
    gray = [np.full((400, 400, 3), 128, np.uint8)]
    spec = DatasetSpec(
        images=1,
        min_visible=settings.exposure.min_visible_share,
        image_size=256,
        negative_share=0.0,
    )
    random = np.random.default_rng(9)
    labelled = 0
    for _ in range(30):
        image, labels = compose(random, gray, logos, spec, camera=False)
        changed = np.abs(image.astype(int) - 128).max(axis=2) > 20
        occluder = np.abs(image.astype(int) - [35, 30, 28]).max(axis=2) < 25
        inside = np.zeros(changed.shape, bool)
        for _brand, cx, cy, w, h in labels:
            x1, y1 = round((cx - w / 2) * 256), round((cy - h / 2) * 256)
            x2, y2 = round((cx + w / 2) * 256), round((cy + h / 2) * 256)
            inside[y1:y2, x1:x2] = True
            assert changed[y1:y2, x1:x2].mean() > 0.3
            labelled += 1
        assert (changed & ~inside & ~occluder).mean() < 0.002
    assert labelled >= 30


def test_logos_cover_one_another_as_in_a_broadcast(monkeypatch):
    """A channel's overlay covers part of a board: the dataset shows logos partly under other
    logos, and every labelled logo still shows at least the on-screen line once all logos are
    drawn (the line the broadcast's truth uses, computed the same way)."""
    settings = load_settings()
    line = settings.exposure.min_visible_share
    logos = [render_logo(b) for b in settings.catalog.brands]
    gray = [np.full((400, 400, 3), 128, np.uint8)]
    spec = DatasetSpec(images=1, min_visible=line, image_size=256)
    pasted: list[PastedLogo] = []

    def recording_paste(*args, **kwargs):
        logo = paste_logo(*args, **kwargs)
        pasted.append(logo)
        return logo

    monkeypatch.setattr(brand_dataset, "paste_logo", recording_paste)
    random = np.random.default_rng(3)
    overlapping = 0
    for _ in range(100):
        pasted.clear()
        _, labels = compose(random, gray, logos, spec, camera=False)
        boxes = [
            tuple(round(v * 256) for v in (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
            for _, cx, cy, w, h in labels
        ]
        kept = [next(p for p in pasted if p and p.box == box) for box in boxes]
        assert all(share >= line for share in visible_shares(kept, (256, 256)))
        overlapping += any(
            a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
            for i, a in enumerate(boxes)
            for b in boxes[i + 1 :]
        )
    assert overlapping >= 10
