"""The brand detector's colour check: a logo in the brand's colour stands, a look-alike in
another colour is dropped."""

from __future__ import annotations

import numpy as np
import pytest

from jobs.common.config import load_settings
from jobs.frame_analysis import brand_colour_check
from jobs.sample_media.broadcast import paste_logo
from jobs.sample_media.logos import render_logo
from udfs.detection.brand import BrandDetector, ColourCheck
from udfs.detection.yolo import Detection
from udfs.devices import torch_device

BRANDS = (("fizzco", ("#d62828",)), ("velocity", ("#1b1b1b", "#ffffff")))


def check(min_share: float = 0.02) -> ColourCheck:
    return ColourCheck(BRANDS, min_share, max_chroma=15, max_lightness=15)


def test_the_share_counts_pixels_near_any_of_the_brands_colours():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[:, :100] = (214, 40, 40)  # FizzCo red
    frame[:, 100:150] = (255, 255, 255)
    reference = check().reference()
    assert check().share(frame, (0.0, 0.0, 0.5, 1.0), reference["fizzco"]) == 1.0
    assert check().share(frame, (0.25, 0.0, 0.75, 1.0), reference["fizzco"]) == 0.5
    # Velocity has two colours: black counts, and so does white.
    assert check().share(frame, (0.5, 0.0, 1.0, 1.0), reference["velocity"]) == 1.0
    assert check().share(frame, (0.0, 0.0, 0.5, 1.0), reference["velocity"]) == 0.0
    assert check().share(frame, (0.5, 0.5, 0.5, 0.5), reference["fizzco"]) == 0.0  # empty box


def test_lighting_within_the_tolerances_keeps_the_colour():
    reference = check().reference()["fizzco"]
    for scale, near in ((0.85, True), (1.1, True), (0.5, False)):
        frame = np.full((10, 10, 3), np.clip(np.float32([214, 40, 40]) * scale, 0, 255), np.uint8)
        assert (check().share(frame, (0, 0, 1, 1), reference) == 1.0) is near, scale


def test_a_colour_check_comes_from_the_catalog():
    settings = load_settings()
    made = brand_colour_check(settings)
    conf = settings.models.brand_detector.colour_check
    assert dict(made.colours) == {b.brand_id: (b.color,) for b in settings.catalog.brands}
    velocity = settings.catalog.brands[2].model_copy(update={"alternate_colors": ["#ffffff"]})
    settings.catalog.brands[2] = velocity
    assert dict(brand_colour_check(settings).colours)["velocity"] == ("#1b1b1b", "#ffffff")
    assert (made.min_share, made.max_chroma, made.max_lightness) == (
        conf.min_share, conf.max_chroma, conf.max_lightness,
    )  # fmt: skip


@pytest.fixture(scope="module")
def frame_with_look_alike():
    """A grey studio wall with AquaPure's logo (#0077b6) on the left and, on the right, the same
    badge and name in light blue (#48cae4): a look-alike the detector alone takes for AquaPure."""
    settings = load_settings()
    aquapure = next(b for b in settings.catalog.brands if b.brand_id == "aquapure")
    frame = np.full((720, 1280, 3), 110, np.uint8)
    paste_logo(frame, render_logo(aquapure),
               np.float32([[120, 300], [480, 300], [480, 440], [120, 440]]))  # fmt: skip
    light_blue = aquapure.model_copy(update={"color": "#48cae4"})
    paste_logo(frame, render_logo(light_blue),
               np.float32([[760, 300], [1120, 300], [1120, 440], [760, 440]]))  # fmt: skip
    return frame


def test_the_detector_drops_a_look_alike_in_another_colour(frame_with_look_alike):
    from jobs.common.registry import shipped

    weights, _ = shipped("brand-detector")
    plain = BrandDetector(str(weights), "shipped", torch_device(), 0.72, 640)
    checked = BrandDetector(str(weights), "shipped", torch_device(), 0.72, 640,
                            brand_colour_check(load_settings()))  # fmt: skip

    def sides(detections: list[Detection]) -> set[tuple[str, str]]:
        return {(d.label, "left" if d.box[2] < 0.5 else "right") for d in detections}

    [found] = plain.detect([frame_with_look_alike])
    assert sides(found) == {("aquapure", "left"), ("aquapure", "right")}
    [found] = checked.detect([frame_with_look_alike])
    assert sides(found) == {("aquapure", "left")}


def test_a_zero_share_turns_the_check_off():
    from jobs.common.registry import shipped

    weights, _ = shipped("brand-detector")
    detector = BrandDetector(str(weights), "shipped", "cpu", 0.5, 640, check(min_share=0.0))
    assert detector.colour_check is None
