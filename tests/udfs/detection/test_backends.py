"""The detectors on exported backends give torch's answers, exports are made once, and a
backend that cannot run leaves the detector on torch, saying why."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from jobs.common.config import load_settings
from jobs.common.registry import shipped
from jobs.sample_media.broadcast import paste_logo
from jobs.sample_media.logos import render_logo
from tests.media import shared_video
from udfs.decoding.frames import sample_frames
from udfs.detection.backends import choose, installed
from udfs.detection.brand import BrandDetector
from udfs.detection.person import PersonDetector
from udfs.detection.yolo import Detection

EXPORTED = [b for b in ("onnxruntime", "openvino") if installed(b, "cpu")]


@pytest.fixture(scope="module")
def footage() -> list[np.ndarray]:
    return [f.image for f in sample_frames(str(shared_video()), fps=1.0)][:8]


@pytest.fixture(scope="module")
def logos() -> list[np.ndarray]:
    """Every catalog brand's logo on a studio wall, four to a frame."""
    brands = load_settings().catalog.brands
    frames = []
    for start in range(0, len(brands), 4):
        frame = np.full((720, 1280, 3), 110, np.uint8)
        for slot, brand in enumerate(brands[start : start + 4]):
            x, y = 80 + (slot % 2) * 620, 120 + (slot // 2) * 300
            corners = np.float32([[x, y], [x + 360, y], [x + 360, y + 140], [x, y + 140]])
            paste_logo(frame, render_logo(brand), corners)
        frames.append(frame)
    return frames


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def assert_same_answers(expected: list[list[Detection]], got: list[list[Detection]]) -> None:
    """Same boxes per frame: each of torch's matched by one of the same label with IoU >= 0.95
    and a confidence within 0.02, and no extra ones."""
    for want, have in zip(expected, got, strict=True):
        assert len(have) == len(want)
        for box in want:
            same = [d for d in have if d.label == box.label]
            assert same, f"{box} not found"
            best = max(same, key=lambda d: iou(d.box, box.box))
            assert iou(best.box, box.box) >= 0.95
            assert abs(best.confidence - box.confidence) <= 0.02


@pytest.mark.skipif(not EXPORTED, reason="neither onnxruntime nor openvino is installed")
@pytest.mark.parametrize("backend", EXPORTED)
def test_exported_detectors_find_what_torch_finds(backend, footage, logos):
    weights, _ = shipped("brand-detector")
    torch_people = PersonDetector("cpu", 0.25, 640, "torch")
    people = PersonDetector("cpu", 0.25, 640, backend)
    assert people.backend == backend and people.model_version.endswith(f" {backend}")
    if backend == "openvino":  # f32 as torch, not the bfloat16 OpenVINO picks where the CPU has it
        compiled = people.model.predictor.model.backend.ov_compiled_model
        assert str(compiled.get_property("INFERENCE_PRECISION_HINT")) == "<Type: 'float32'>"
    expected = torch_people.detect(footage)
    assert sum(map(len, expected)) >= 15  # people to compare
    assert_same_answers(expected, people.detect(footage))

    torch_brands = BrandDetector(str(weights), "shipped", "cpu", 0.5, 640, None, "torch")
    brands = BrandDetector(str(weights), "shipped", "cpu", 0.5, 640, None, backend)
    assert brands.model_version == f"shipped {backend}" and torch_brands.model_version == "shipped"
    expected = torch_brands.detect(logos)
    assert sum(map(len, expected)) >= len(load_settings().catalog.brands) - 1
    assert_same_answers(expected, brands.detect(logos))


def test_auto_takes_the_fastest_backend_the_device_has(caplog):
    if installed("openvino", "cpu"):
        assert choose("auto", "cpu") == "openvino"
    # Without a GPU runtime installed, a GPU executor runs the models on torch, and an
    # explicitly asked backend that cannot run here falls back to torch, saying so.
    expected_gpu = next((b for b in ("tensorrt", "onnxruntime") if installed(b, "cuda:0")), "torch")
    assert choose("auto", "cuda:0") == expected_gpu
    with caplog.at_level(logging.WARNING, logger="brandlake.backends"):
        assert choose("tensorrt", "cpu") == "torch"
    assert "models.backend tensorrt is not available on cpu" in caplog.text


@pytest.mark.skipif("openvino" not in EXPORTED, reason="openvino is not installed")
def test_a_failed_export_leaves_the_detector_on_torch(tmp_path):
    """The exporter needs the `openvino` package; a worker without it (imports blocked here)
    runs the model on torch and says which model and why."""
    script = textwrap.dedent(f"""
        import logging, sys
        sys.modules["openvino"] = None  # as if not installed
        logging.basicConfig(level=logging.WARNING)
        from udfs.detection.backends import load
        from udfs.detection.person import weights_path
        model, backend = load(str(weights_path()), "pose", "cpu", "openvino", 320,
                              __import__("pathlib").Path({str(tmp_path)!r}))
        print("backend", backend, type(model).__name__)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "backend torch YOLO" in done.stdout
    assert "yolo11n-pose.pt: no openvino export" in done.stderr
    assert not any(p.is_dir() and not p.name.startswith(".") for p in tmp_path.iterdir())


@pytest.mark.skipif("onnxruntime" not in EXPORTED, reason="onnxruntime is not installed")
def test_an_export_is_made_once_and_reused(tmp_path):
    from udfs.detection.backends import exported
    from udfs.detection.person import weights_path

    first = exported(weights_path(), "onnxruntime", 320, "cpu", tmp_path)
    made = first.stat().st_mtime_ns
    again = exported(weights_path(), "onnxruntime", 320, "cpu", tmp_path)
    assert again == first and again.stat().st_mtime_ns == made
    other = exported(weights_path(), "onnxruntime", 640, "cpu", tmp_path)
    assert other != first  # a different input size is another export
