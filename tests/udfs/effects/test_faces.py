"""Faces blurred for the privacy rendition: the shipped CenterFace finds the astronaut's face,
and no face once it is blurred; a frame without a face is left as it was."""

from __future__ import annotations

import cv2
import numpy as np
from skimage import data

from udfs.effects.faces import FaceBlur


def test_a_known_face_is_found_and_none_after_the_blur():
    blur = FaceBlur()
    photo = cv2.resize(data.astronaut(), (1280, 1280))  # her face: about x 450-680, y 150-445
    (box,) = blur.faces(photo)
    x1, y1, x2, y2 = box  # the face and a margin around it, not much more
    assert x1 < 450 < 680 < x2 and y1 < 150 < 445 < y2 and x2 - x1 < 400 and y2 - y1 < 480
    blurred = blur.blur(photo, [box])
    assert blur.faces(blurred) == []
    outside = np.ones(photo.shape[:2], bool)
    outside[y1:y2, x1:x2] = False
    assert np.array_equal(blurred[outside], photo[outside])  # only the face changes


def test_a_frame_without_faces_is_left_alone():
    blur = FaceBlur()
    rocket = data.rocket()
    assert blur.faces(rocket) == []
    assert np.array_equal(blur.blur(rocket, []), rocket)
