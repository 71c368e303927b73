"""Logo images for the catalog's fictional brands, generated (nothing to download or license)."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np

from jobs.common.config import Brand

LOGO_SIZE = (360, 140)  # width, height of the flat logo before it is placed in a scene


def _hex_to_rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))


def render_logo(brand: Brand) -> np.ndarray:
    """An RGBA logo: a rounded badge in the brand colour, an emblem and the brand name.

    The emblem's shape and the text layout follow from the brand id, so each brand looks the
    same in every run and different from the others.
    """
    width, height = LOGO_SIZE
    digest = hashlib.sha256(brand.brand_id.encode()).digest()
    color = _hex_to_rgb(brand.color)
    ink = (255, 255, 255) if sum(color) < 500 else (20, 20, 20)
    rgb = np.zeros((height, width, 3), np.uint8)
    alpha = np.zeros((height, width), np.uint8)
    radius = 28
    for canvas, value in ((rgb, color), (alpha, 255)):
        cv2.rectangle(canvas, (radius, 0), (width - radius, height), value, -1)
        cv2.rectangle(canvas, (0, radius), (width, height - radius), value, -1)
        for cx, cy in ((radius, radius), (width - radius, radius), (radius, height - radius)):
            cv2.circle(canvas, (cx, cy), radius, value, -1, cv2.LINE_AA)
        cv2.circle(canvas, (width - radius, height - radius), radius, value, -1, cv2.LINE_AA)
    # Emblem on the left: circle, triangle, diamond or bars, chosen by the brand id.
    cx, cy, r = 62, height // 2, 38
    shape = digest[0] % 4
    if shape == 0:
        cv2.circle(rgb, (cx, cy), r, ink, 9, cv2.LINE_AA)
        cv2.circle(rgb, (cx, cy), r // 3, ink, -1, cv2.LINE_AA)
    elif shape == 1:
        points = np.array([[cx, cy - r], [cx + r, cy + r], [cx - r, cy + r]], np.int32)
        cv2.fillPoly(rgb, [points], ink, cv2.LINE_AA)
    elif shape == 2:
        points = np.array([[cx, cy - r], [cx + r, cy], [cx, cy + r], [cx - r, cy]], np.int32)
        cv2.polylines(rgb, [points], True, ink, 10, cv2.LINE_AA)
    else:
        for i in range(3):
            x = cx - r + i * 28
            cv2.rectangle(rgb, (x, cy + r - 25 - i * 22), (x + 18, cy + r), ink, -1)
    # The name, as large as fits beside the emblem.
    text = brand.name.upper()
    font = cv2.FONT_HERSHEY_DUPLEX if digest[1] % 2 else cv2.FONT_HERSHEY_TRIPLEX
    scale = 1.6
    while scale > 0.5:
        (text_w, text_h), _ = cv2.getTextSize(text, font, scale, 3)
        if text_w <= width - 130:
            break
        scale -= 0.1
    origin = (118 + (width - 130 - text_w) // 2, (height + text_h) // 2)
    cv2.putText(rgb, text, origin, font, scale, ink, 3, cv2.LINE_AA)
    return np.dstack([rgb, alpha])
