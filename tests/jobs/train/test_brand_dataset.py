"""The synthetic brand-detection dataset: YOLO labels that say where the catalog's logos are,
made-up logos that are never labelled, logos as broadcasts show them."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import yaml

from jobs.common.config import load_settings
from jobs.sample_media.broadcast import paste_logo
from jobs.sample_media.logos import render_logo
from jobs.sample_media.scenes import FAMILIES, Backdrop
from jobs.train import brand_dataset
from jobs.train.brand_dataset import DatasetSpec, build_dataset, compose

SETTINGS = load_settings()
BRANDS = SETTINGS.catalog.brands
LINE = SETTINGS.exposure.min_visible_share


def digest(folder) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".jpg", ".txt"))
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


def spec(**changes) -> DatasetSpec:
    base = {"images": 30, "min_visible": LINE, "families": tuple(SETTINGS.train.families.train),
            "image_size": 160, "frame_width": 320, "seed": 4}  # fmt: skip
    return DatasetSpec(**{**base, **changes})


def test_dataset_layout_labels_and_determinism(tmp_path):
    data_yaml = build_dataset(spec(), BRANDS, tmp_path / "a")
    build_dataset(spec(), BRANDS, tmp_path / "b")
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    data = yaml.safe_load(data_yaml.read_text())
    assert data["names"] == {i: b.brand_id for i, b in enumerate(BRANDS)}
    images = sorted((tmp_path / "a" / "images").rglob("*.jpg"))
    labels = sorted((tmp_path / "a" / "labels").rglob("*.txt"))
    assert len(images) == len(labels) == 30
    assert len(list((tmp_path / "a" / "images" / "val").glob("*.jpg"))) == 4
    rows = [line.split() for path in labels for line in path.read_text().splitlines()]
    assert len(rows) > 30
    for brand, *box in rows:
        assert 0 <= int(brand) < len(BRANDS)
        cx, cy, w, h = map(float, box)
        assert 0 < w <= 1 and 0 < h <= 1
        # Labels are written with 6 decimals.
        assert cx - w / 2 >= -1e-5 and cx + w / 2 <= 1 + 1e-5
        assert cy - h / 2 >= -1e-5 and cy + h / 2 <= 1 + 1e-5
    ids = [b.brand_id for b in BRANDS]
    assert spec().fingerprint(ids) != spec(seed=5).fingerprint(ids)
    assert spec().fingerprint(ids) != spec(families=("photo",)).fingerprint(ids)


def test_labels_are_the_catalog_logos_pasted_and_never_the_made_up_ones(monkeypatch):
    """On a flat gray backdrop without camera effects: each label box is mostly logo and is
    where a logo of its own brand was pasted (matched by size, for boxes the crop does not
    cut); made-up logos (distractors) are pasted and never labelled."""
    logos = [render_logo(b) for b in BRANDS]
    pasted = []  # (logo, PastedLogo) in drawing order

    def recording_paste(frame, logo, *args, **kwargs):
        result = paste_logo(frame, logo, *args, **kwargs)
        pasted.append((logo, result))
        return result

    monkeypatch.setattr(brand_dataset, "paste_logo", recording_paste)
    random = np.random.default_rng(9)
    size, width = 256, 512
    gray = Backdrop("flat", np.full((288, width, 3), 128, np.uint8))
    labelled = distractors = 0
    for _ in range(40):
        pasted.clear()
        image, labels = compose(random, logos, BRANDS, spec(image_size=size, frame_width=width),
                                camera=False, backdrop=gray)  # fmt: skip
        changed = np.abs(image.astype(int) - 128).max(axis=2) > 20
        for brand, cx, cy, w, h in labels:
            x1, y1 = round((cx - w / 2) * size), round((cy - h / 2) * size)
            x2, y2 = round((cx + w / 2) * size), round((cy + h / 2) * size)
            assert changed[y1:y2, x1:x2].mean() > 0.2
            labelled += 1
            if x1 > 0 and y1 > 0 and x2 < size and y2 < size:
                same_size = [
                    logo
                    for logo, result in pasted
                    if result
                    and abs(result.box[2] - result.box[0] - (x2 - x1)) <= 1
                    and abs(result.box[3] - result.box[1] - (y2 - y1)) <= 1
                ]
                assert any(logo is logos[brand] for logo in same_size)
        mine = [result for logo, result in pasted if result and any(logo is x for x in logos)]
        distractors += sum(
            1 for logo, result in pasted if result and all(logo is not x for x in logos)
        )
        assert len(labels) <= len(mine)
    assert labelled >= 40 and distractors >= 20


def test_logos_are_shown_as_broadcasts_show_them():
    """Over many stadium images: logos from under 4 % to over 15 % of the frame width, and
    images without any catalog logo."""
    logos = [render_logo(b) for b in BRANDS]
    random = np.random.default_rng(2)
    conf = spec(image_size=320, frame_width=640, families=("stadium",))
    widths, negatives = [], 0
    for _ in range(150):
        _, labels = compose(random, logos, BRANDS, conf)
        widths += [w * 320 / 640 for _, _, _, w, _ in labels]
        negatives += not labels
    assert min(widths) < 0.04 and max(widths) > 0.15
    assert negatives >= 10


def test_every_family_renders_a_frame_sized_backdrop():
    random = np.random.default_rng(1)
    for name, family in FAMILIES.items():
        backdrop = family(random, 180, 320)
        assert backdrop.image.shape == (180, 320, 3) and backdrop.image.dtype == np.uint8, name
        assert backdrop.image.std() > 3, name  # not a blank frame
        for slot in backdrop.slots:
            assert slot.shape == (4, 2)


def test_held_out_families_are_never_trained_on():
    from jobs.common.config import ConfigError

    with pytest.raises(ConfigError, match="both trained on and held out"):
        load_settings({"train.families.held_out": ["arena", "photo"]})
