"""Training the brand detector end to end on a tiny dataset (real Ultralytics, real weights)."""

from __future__ import annotations

import cv2
import pytest

from jobs.common.config import load_settings
from jobs.common.registry import champion
from jobs.train.brand_detector import dataset_for, train_brand_detector


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))
    return load_settings()


def test_tiny_training_gives_a_detector_of_the_catalog_brands(tiny):
    result = train_brand_detector(tiny, "tiny", device="cpu")
    assert result.weights.is_file()
    assert 0.0 <= result.map50 <= 1.0 and 0.0 <= result.recall <= 1.0
    from ultralytics import YOLO

    model = YOLO(str(result.weights))
    assert list(model.names.values()) == [b.brand_id for b in tiny.catalog.brands]
    data_yaml, fingerprint = dataset_for(tiny, "tiny")
    assert fingerprint == result.dataset_fingerprint
    image = next((data_yaml.parent / "images" / "val").glob("*.jpg"))
    prediction = model.predict(cv2.imread(str(image)), imgsz=160, device="cpu", verbose=False)[0]
    assert prediction.boxes is not None
    # Registered in MLflow; the first version becomes the champion the streaming job loads.
    assert (result.version, result.promoted) == ("1", True)
    loaded = champion(tiny, tiny.models.brand_detector.name)
    assert loaded.version == "1" and loaded.weights.read_bytes() == result.weights.read_bytes()


def test_the_dataset_is_built_once_per_fingerprint(tiny):
    first, fingerprint = dataset_for(tiny, "tiny")
    stamp = first.stat().st_mtime_ns
    again, same = dataset_for(tiny, "tiny")
    assert (again, same) == (first, fingerprint) and again.stat().st_mtime_ns == stamp


def test_an_unknown_profile_is_a_clear_error(tiny):
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        train_brand_detector(tiny, "huge", device="cpu")


def test_the_on_screen_line_is_part_of_the_dataset_fingerprint(tiny):
    """Training labels and the exposure truth share `exposure.min_visible_share`: changing it
    gives another dataset."""
    _, fingerprint = dataset_for(tiny, "tiny")
    stricter = tiny.model_copy(
        update={"exposure": tiny.exposure.model_copy(update={"min_visible_share": 0.6})}
    )
    _, other = dataset_for(stricter, "tiny")
    assert other != fingerprint


def test_an_unreachable_registry_is_named_with_what_to_set(tmp_path):
    import time

    from infra.local.services import free_port
    from jobs.common.config import load_settings
    from jobs.common.registry import RegistryUnavailableError, check_registry

    dead = f"http://127.0.0.1:{free_port()}"
    settings = load_settings({"models.tracking_uri": dead})
    started = time.monotonic()
    with pytest.raises(RegistryUnavailableError, match=rf"registry at {dead} cannot be reached"):
        check_registry(settings, timeout_s=2)
    assert time.monotonic() - started < 30
