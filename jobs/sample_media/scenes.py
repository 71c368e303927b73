"""Scene families: the backgrounds brand logos are shown on, in training images and in sample
broadcasts, and the made-up logos (distractors) that share the screen with them.

A family renders a frame-sized backdrop and the slots its scene offers a logo (LED panels along
a stadium's advertising line, a studio's screens, posters on a wall). Families are split in
`conf/base.yaml` (`train.families`): the detector trains on some and is judged on broadcasts
rendered only from the others, so its figures say how it does on scenes it never saw.

- `photo`: a view of a photograph bundled in scikit-image (the sample broadcasts' scenes).
- `texture`: procedural fields: flat, gradient, stripes, grass-like and crowd-like noise,
  brick, random shapes (coloured rounded boxes without a brand among them) and random text.
- `stadium`: crowd, a line of LED boards and a mown pitch by daylight.
- `studio`: a cool-toned set with screens and a desk.
- `arena` (held out): an indoor court at night, dark stands, a glowing LED ribbon.
- `newsroom` (held out): a warm set, a skyline window, an anchor desk.
- `street` (held out): facades and photographs of other places with posters in perspective.

Distractors are logos of brands that are not in the catalog, left unlabelled; their words
include near misses of the brands' names. `badge` ones share the catalog logos' template
(rounded box, emblem, name); `wordmark`, `roundel` and `stripe` ones do not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np

from jobs.common.config import Brand
from jobs.sample_media.logos import LOGO_SIZE, render_logo

LOGO_ASPECT = LOGO_SIZE[0] / LOGO_SIZE[1]
Rng = np.random.Generator


@dataclass(frozen=True)
class Backdrop:
    family: str
    image: np.ndarray  # RGB, height x width
    slots: list[np.ndarray] = field(default_factory=list)  # 4x2 quads (tl, tr, br, bl), pixels


# -- procedural primitives ------------------------------------------------------------------


def _colour(random: Rng, low: int = 0, high: int = 256) -> tuple[int, int, int]:
    return tuple(int(v) for v in random.integers(low, high, 3))


def _smooth_noise(random: Rng, height: int, width: int, cells: int) -> np.ndarray:
    """Noise in 0..1 whose features are about `cells` across the image."""
    small = random.random((max(2, cells * height // max(width, 1)), max(2, cells)))
    return cv2.resize(small.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)


def _tint(base: np.ndarray, colour, amount: np.ndarray) -> np.ndarray:
    return base * (1 - amount[..., None]) + np.float32(colour) * amount[..., None]


def _grain(random: Rng, image: np.ndarray, sigma: float) -> np.ndarray:
    noisy = image.astype(np.float32) + random.normal(0, sigma, image.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def flat(random: Rng, height: int, width: int) -> np.ndarray:
    return np.full((height, width, 3), _colour(random), np.uint8)


def gradient(random: Rng, height: int, width: int) -> np.ndarray:
    a, b = np.float32(_colour(random)), np.float32(_colour(random))
    ramp = np.linspace(0, 1, height if random.random() < 0.5 else width, dtype=np.float32)
    ramp = ramp[:, None] if len(ramp) == height else ramp[None, :]
    ramp = np.broadcast_to(ramp, (height, width))
    return (a * (1 - ramp[..., None]) + b * ramp[..., None]).astype(np.uint8)


def stripes(random: Rng, height: int, width: int) -> np.ndarray:
    a, b = np.float32(_colour(random)), np.float32(_colour(random))
    angle = random.uniform(0, np.pi)
    period = random.uniform(6, max(8, width / 4))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    wave = (np.sin((xs * np.cos(angle) + ys * np.sin(angle)) * 2 * np.pi / period) > 0).astype(
        np.float32
    )
    wave = cv2.GaussianBlur(wave, (0, 0), random.uniform(0.3, 2.0))
    return (a * (1 - wave[..., None]) + b * wave[..., None]).astype(np.uint8)


def grass(random: Rng, height: int, width: int, base=None) -> np.ndarray:
    base = base or (
        int(random.integers(20, 90)),
        int(random.integers(90, 170)),
        int(random.integers(20, 80)),
    )
    image = np.full((height, width, 3), base, np.float32)
    blotches = _smooth_noise(random, height, width, int(random.integers(4, 30)))
    image = _tint(image, (0, 0, 0), 0.35 * blotches)
    image += random.normal(0, random.uniform(6, 22), (height, width, 1)).astype(np.float32)
    blades = cv2.GaussianBlur(random.random((height, width)).astype(np.float32), (1, 5), 0)
    image *= (0.85 + 0.3 * blades)[..., None]
    return np.clip(image, 0, 255).astype(np.uint8)


def crowd(random: Rng, height: int, width: int, dark: bool = False) -> np.ndarray:
    """Rows of spectators: small heads and shirts of every colour over dark stands."""
    image = np.full((height, width, 3), (25, 22, 28) if dark else _colour(random, 30, 90), np.uint8)
    size = float(random.uniform(2.5, 7.0))
    count = int(height * width / (size * size * 2.2))
    xs = random.uniform(0, width, count).astype(int)
    ys = random.uniform(0, height, count).astype(int)
    for x, y in zip(xs, ys, strict=True):
        shirt = _colour(random, 0, 120 if dark else 256)
        cv2.ellipse(image, (x, y + int(size)), (int(size), int(size * 0.8)), 0, 0, 360, shirt, -1)
        skin = int(random.integers(60, 230))
        tone = (skin, int(skin * 0.8), int(skin * 0.65))
        cv2.circle(image, (x, y), max(1, int(size * 0.5)), tone, -1)
    if dark:  # camera flashes and phone screens
        for _ in range(count // 40):
            x, y = int(random.integers(0, width)), int(random.integers(0, height))
            cv2.circle(image, (x, y), 1, (255, 255, 240), -1)
    return image


def brick(random: Rng, height: int, width: int) -> np.ndarray:
    mortar = _colour(random, 120, 220)
    image = np.full((height, width, 3), mortar, np.uint8)
    course = float(random.uniform(6, 28))
    length = course * random.uniform(2.0, 3.2)
    base = np.float32(_colour(random, 60, 200))
    for row, top in enumerate(np.arange(0, height, course)):
        offset = (row % 2) * length / 2
        for left in np.arange(-offset, width, length):
            shade = np.clip(base * random.uniform(0.75, 1.2), 0, 255)
            cv2.rectangle(
                image,
                (int(left + 1), int(top + 1)),
                (int(left + length - 2), int(top + course - 2)),
                tuple(int(v) for v in shade),
                -1,
            )
    return _grain(random, image, 6)


def shapes(random: Rng, height: int, width: int) -> np.ndarray:
    """Random rectangles, rounded boxes (in any colour, a brand's too) and circles."""
    image = gradient(random, height, width)
    for _ in range(int(random.integers(4, 20))):
        colour = _colour(random)
        x, y = int(random.integers(0, width)), int(random.integers(0, height))
        w = int(random.uniform(0.03, 0.35) * width)
        h = int(w / random.uniform(0.5, 4.0))
        kind = random.integers(3)
        if kind == 0:
            cv2.rectangle(image, (x, y), (x + w, y + h), colour, -1)
        elif kind == 1:
            _rounded_box(image, (x, y, w, h), colour)
        else:
            cv2.circle(image, (x, y), max(2, h // 2), colour, -1, cv2.LINE_AA)
    return image


def text(random: Rng, height: int, width: int) -> np.ndarray:
    image = (
        flat(random, height, width) if random.random() < 0.5 else gradient(random, height, width)
    )
    for _ in range(int(random.integers(3, 14))):
        word = " ".join(random.choice(WORDS, int(random.integers(1, 4))))
        scale = float(random.uniform(0.3, 2.2))
        origin = (int(random.integers(-20, width)), int(random.integers(10, height + 10)))
        font = int(random.choice(FONTS))
        cv2.putText(image, word, origin, font, scale, _colour(random), int(random.integers(1, 4)))
    return image


def _rounded_box(image: np.ndarray, box, colour) -> None:
    x, y, w, h = box
    radius = max(1, min(w, h) // 5)
    cv2.rectangle(image, (x + radius, y), (x + w - radius, y + h), colour, -1)
    cv2.rectangle(image, (x, y + radius), (x + w, y + h - radius), colour, -1)
    for cx, cy in ((x + radius, y + radius), (x + w - radius, y + radius)):
        cv2.circle(image, (cx, cy), radius, colour, -1, cv2.LINE_AA)
    for cx, cy in ((x + radius, y + h - radius), (x + w - radius, y + h - radius)):
        cv2.circle(image, (cx, cy), radius, colour, -1, cv2.LINE_AA)


FIELDS: dict[str, Callable[[Rng, int, int], np.ndarray]] = {
    "flat": flat,
    "gradient": gradient,
    "stripes": stripes,
    "grass": grass,
    "crowd": crowd,
    "brick": brick,
    "shapes": shapes,
    "text": text,
}
FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_PLAIN,
)
WORDS = (
    "GOAL", "LIVE", "HOME", "AWAY", "SALE", "NEWS", "SPORT", "WORLD", "CITY", "OPEN", "CUP",
    "FINAL", "2026", "SCORE", "WEATHER", "MARKET", "TICKETS", "WELCOME", "EXIT", "GATE 4",
)  # fmt: skip


# -- families -------------------------------------------------------------------------------


def _led_line(random: Rng, image: np.ndarray, top: int, band: int, glow: bool) -> list[np.ndarray]:
    """A line of LED panels from edge to edge at `top`; returns a logo slot per panel."""
    width = image.shape[1]
    cv2.rectangle(image, (0, top), (width, top + band), (12, 12, 14), -1)
    panel_h = max(4, int(band * random.uniform(0.75, 0.95)))
    panel_w = int(panel_h * LOGO_ASPECT)
    gap = int(random.uniform(0.05, 0.6) * panel_w)
    slots = []
    y = top + (band - panel_h) // 2
    for x in range(int(-random.uniform(0, panel_w)), width, panel_w + gap):
        if glow:
            cv2.rectangle(image, (x, y), (x + panel_w, y + panel_h), _colour(random, 40, 256), -1)
        slots.append(
            np.float32([[x, y], [x + panel_w, y], [x + panel_w, y + panel_h], [x, y + panel_h]])
        )
    return slots


def stadium(random: Rng, height: int, width: int) -> Backdrop:
    horizon = int(random.uniform(0.2, 0.55) * height)
    band = int(random.uniform(0.035, 0.09) * height)
    image = np.empty((height, width, 3), np.uint8)
    image[:horizon] = crowd(random, horizon, width)
    pitch = grass(random, height - horizon - band, width)
    mown = (np.arange(width)[None, :] // max(8, int(random.uniform(0.05, 0.15) * width))) % 2
    image[horizon + band :] = np.clip(pitch * (0.9 + 0.15 * mown[..., None]), 0, 255)
    slots = _led_line(random, image, horizon, band, glow=False)
    for _ in range(int(random.integers(0, 3))):  # pitch markings
        y = int(random.uniform(horizon + band + 10, height))
        cv2.line(image, (0, y), (width, int(y + random.uniform(-40, 40))), (230, 235, 230), 2)
    return Backdrop("stadium", image, slots)


def studio(random: Rng, height: int, width: int) -> Backdrop:
    cool = (
        int(random.integers(10, 60)),
        int(random.integers(20, 80)),
        int(random.integers(90, 200)),
    )
    image = np.zeros((height, width, 3), np.float32)
    ramp = np.linspace(0.4, 1.2, height, dtype=np.float32)[:, None, None]
    image += np.float32(cool) * ramp
    for _ in range(int(random.integers(2, 6))):  # light beams
        x = int(random.uniform(0, width))
        beam = np.zeros((height, width), np.float32)
        cv2.line(beam, (x, 0), (int(x + random.uniform(-200, 200)), height), 1.0, int(width * 0.04))
        image += 60 * cv2.GaussianBlur(beam, (0, 0), width * 0.02)[..., None]
    image = np.clip(image, 0, 255).astype(np.uint8)
    slots = []
    for _ in range(int(random.integers(1, 3))):  # screens on the wall
        w = int(random.uniform(0.15, 0.35) * width)
        h = int(w * 9 / 16)
        x, y = int(random.uniform(0, width - w)), int(random.uniform(0.05, 0.4) * height)
        cv2.rectangle(image, (x - 3, y - 3), (x + w + 3, y + h + 3), (30, 30, 30), -1)
        image[y : y + h, x : x + w] = gradient(random, h, w)
        slots.append(_slot_in(random, (x, y, w, h)))
    desk_top = int(random.uniform(0.6, 0.8) * height)
    desk = np.int32(
        [[width * 0.15, desk_top], [width * 0.85, desk_top], [width, height], [0, height]]
    )
    cv2.fillPoly(image, [desk], _colour(random, 30, 220))
    slots.append(
        _slot_in(
            random, (int(width * 0.35), desk_top + 8, int(width * 0.3), height - desk_top - 16)
        )
    )
    return Backdrop("studio", image, slots)


def arena(random: Rng, height: int, width: int) -> Backdrop:
    horizon = int(random.uniform(0.25, 0.5) * height)
    band = int(random.uniform(0.03, 0.07) * height)
    image = np.empty((height, width, 3), np.uint8)
    image[:horizon] = crowd(random, horizon, width, dark=True)
    wood = np.float32((int(random.integers(150, 210)), int(random.integers(95, 140)), 60))
    floor = np.broadcast_to(wood, (height - horizon - band, width, 3)).copy()
    planks = (np.arange(floor.shape[0])[:, None] // max(3, int(height * 0.012))) % 3
    floor *= (0.9 + 0.06 * planks)[..., None]
    floor *= (0.85 + 0.3 * _smooth_noise(random, *floor.shape[:2], 12))[..., None]
    image[horizon + band :] = np.clip(floor, 0, 255).astype(np.uint8)
    slots = _led_line(random, image, horizon, band, glow=True)
    centre = (int(width * random.uniform(0.3, 0.7)), int(height * 0.85))
    cv2.ellipse(
        image, centre, (int(width * 0.2), int(height * 0.08)), 0, 0, 360, (240, 240, 240), 2
    )
    return Backdrop("arena", image, slots)


def newsroom(random: Rng, height: int, width: int) -> Backdrop:
    warm = (
        int(random.integers(120, 220)),
        int(random.integers(30, 90)),
        int(random.integers(10, 50)),
    )
    image = gradient(random, height, width)
    image = ((image.astype(np.float32) * 0.3) + np.float32(warm) * 0.7).astype(np.uint8)
    wx, wy = int(width * random.uniform(0.05, 0.4)), int(height * 0.08)
    ww, wh = int(width * 0.5), int(height * 0.45)
    window = np.full((wh, ww, 3), (20, 25, 45), np.uint8)
    x = 0
    while x < ww:  # a skyline at dusk with lit windows
        bw, bh = int(random.uniform(0.05, 0.15) * ww), int(random.uniform(0.3, 0.95) * wh)
        window[wh - bh :, x : x + bw] = _colour(random, 20, 70)
        lit = random.random((bh // 6, max(1, bw // 5))) < 0.4
        for r, c in zip(*np.nonzero(lit), strict=True):
            window[wh - bh + r * 6 + 2 : wh - bh + r * 6 + 4, x + c * 5 + 1 : x + c * 5 + 3] = (
                250,
                220,
                150,
            )
        x += bw
    image[wy : wy + wh, wx : wx + ww] = window
    slots = []
    if random.random() < 0.7:  # a wall screen
        w = int(width * random.uniform(0.15, 0.25))
        h = int(w * 9 / 16)
        x, y = int(width * 0.72), int(height * 0.12)
        image[y : y + h, x : x + min(w, width - x)] = flat(random, h, min(w, width - x))
        slots.append(_slot_in(random, (x, y, min(w, width - x), h)))
    desk_top = int(random.uniform(0.62, 0.78) * height)
    cv2.rectangle(
        image,
        (int(width * 0.1), desk_top),
        (int(width * 0.9), height),
        _colour(random, 180, 256),
        -1,
    )
    slots.append(
        _slot_in(random, (int(width * 0.4), desk_top + 6, int(width * 0.2), height - desk_top - 12))
    )
    return Backdrop("newsroom", image, slots)


def street(random: Rng, height: int, width: int) -> Backdrop:
    if random.random() < 0.5:
        image = view(random, _photo(str(random.choice(STREET_PHOTOS))), height, width)
    else:
        image = (
            brick(random, height, width) if random.random() < 0.5 else flat(random, height, width)
        )
        rows, cols = int(random.integers(2, 5)), int(random.integers(3, 8))
        for r in range(rows):
            for c in range(cols):
                x = int((c + 0.2) * width / cols)
                y = int((r + 0.15) * height / rows)
                cv2.rectangle(
                    image,
                    (x, y),
                    (x + int(0.5 * width / cols), y + int(0.6 * height / rows)),
                    _colour(random, 0, 90),
                    -1,
                )
    slots = []
    for _ in range(int(random.integers(1, 4))):  # posters on the walls, seen at an angle
        w = random.uniform(0.1, 0.3) * width
        h = w / random.uniform(0.6, 1.6)
        x, y = random.uniform(0, width - w), random.uniform(0, height - h)
        tilt = float(random.uniform(-0.15, 0.15))
        poster = np.float32([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
        poster[:, 1] += tilt * h * np.sign(poster[:, 0] - x - w / 2) * np.float32([1, 1, -1, -1])
        cv2.fillPoly(image, [poster.astype(np.int32)], _colour(random, 150, 256))
        slots.append(_slot_in(random, (int(x), int(y + 0.1 * h), int(w), int(0.8 * h)), tilt))
    return Backdrop("street", image, slots)


def _slot_in(random: Rng, box, tilt: float = 0.0) -> np.ndarray:
    """A logo-shaped quad centred in `box` (x, y, w, h), as wide as fits; `tilt`: the right
    edge is that share of the height lower (and the left one higher), as on a wall at an
    angle."""
    x, y, w, h = box
    width = min(w * random.uniform(0.5, 0.95), h * LOGO_ASPECT * 0.95)
    height = width / LOGO_ASPECT
    cx, cy = x + w / 2, y + h / 2
    quad = np.float32(
        [[cx - width / 2, cy - height / 2], [cx + width / 2, cy - height / 2],
         [cx + width / 2, cy + height / 2], [cx - width / 2, cy + height / 2]]
    )  # fmt: skip
    quad[:, 1] += tilt * height * np.sign(quad[:, 0] - cx) * np.float32([1, 1, -1, -1])
    return quad


def texture(random: Rng, height: int, width: int) -> Backdrop:
    """One to three fields side by side or stacked."""
    parts = int(random.integers(1, 4))
    image = np.empty((height, width, 3), np.uint8)
    vertical = random.random() < 0.5
    cuts = np.sort(random.uniform(0.2, 0.8, parts - 1))
    edges = [
        0,
        *(int(c * (height if vertical else width)) for c in cuts),
        height if vertical else width,
    ]
    names = list(FIELDS)
    for a, b in pairwise(edges):
        name = names[int(random.integers(len(names)))]
        if vertical:
            image[a:b] = FIELDS[name](random, b - a, width)
        else:
            image[:, a:b] = FIELDS[name](random, height, b - a)
    return Backdrop("texture", image)


# Photographs: those the sample broadcasts show (and training sees), and those of the held-out
# `street` family, from other packages.
PHOTOS = (
    "astronaut", "coffee", "chelsea", "rocket", "stereo_motorcycle", "hubble_deep_field",
    "retina", "camera", "brick", "grass", "gravel", "coins", "moon", "page", "text", "horse",
    "immunohistochemistry", "colorwheel", "cat", "clock", "cell",
)  # fmt: skip
STREET_PHOTOS = (
    "sklearn:china.jpg",
    "sklearn:flower.jpg",
    "ultralytics:bus.jpg",
    "ultralytics:zidane.jpg",
)


def load_photo(name: str) -> np.ndarray:
    """An RGB photograph bundled in a package (a copy: callers may draw on it): scikit-image's
    by name (`astronaut`), scikit-learn's and Ultralytics' by file (`sklearn:china.jpg`)."""
    return _photo(name).copy()


@cache
def _photo(name: str) -> np.ndarray:
    package, _, file = name.rpartition(":")
    if package == "sklearn":
        from sklearn.datasets import load_sample_image

        return load_sample_image(file)
    if package == "ultralytics":
        import ultralytics

        path = Path(ultralytics.__file__).parent / "assets" / file
        return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    import skimage.data

    image = getattr(skimage.data, name)()
    if isinstance(image, tuple):  # stereo_motorcycle: (left, right, disparity)
        image = image[0]
    if image.ndim == 2:
        image = np.dstack([image] * 3)
    if image.dtype != np.uint8:
        image = (255 * (image.astype(np.float32) / max(float(image.max()), 1e-6))).astype(np.uint8)
    return np.ascontiguousarray(image[..., :3])


def view(random: Rng, photo: np.ndarray, height: int, width: int) -> np.ndarray:
    """A random crop of `photo` with the frame's aspect, resized to the frame."""
    rows, cols = photo.shape[:2]
    aspect = height / width
    crop_w = int(random.uniform(0.4, 1.0) * min(cols, rows / aspect))
    crop_h = max(2, int(crop_w * aspect))
    top = int(random.integers(0, rows - crop_h + 1))
    left = int(random.integers(0, cols - crop_w + 1))
    crop = photo[top : top + crop_h, left : left + crop_w]
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)


def photo(random: Rng, height: int, width: int) -> Backdrop:
    return Backdrop("photo", view(random, _photo(str(random.choice(PHOTOS))), height, width))


FAMILIES: dict[str, Callable[[Rng, int, int], Backdrop]] = {
    "photo": photo,
    "texture": texture,
    "stadium": stadium,
    "studio": studio,
    "arena": arena,
    "newsroom": newsroom,
    "street": street,
}


# -- distractors ----------------------------------------------------------------------------

DISTRACTOR_WORDS = {
    # near misses of the catalog's names, and other brands' words
    "train": (
        "FIZZ", "FIZBO", "FUZZCO", "AQUA", "AQUAPRO", "PURE", "VELO", "VELOCE", "LUMA",
        "LUMENA", "PINE", "PINECRAFT", "NORTH", "ENERGY", "BANK", "AIRWAYS", "TECHNO", "SPORTIF",
    ),
    "held_out": (
        "FIZZLE", "AQUALINE", "VELOX", "LUMINO", "PINEHURST", "CREST", "MEDIA", "MOTORS",
        "FOODS", "TELECOM",
    ),
}  # fmt: skip
DISTRACTOR_STYLES = {"train": ("badge", "wordmark", "roundel"), "held_out": ("badge", "stripe")}


def render_distractor(random: Rng, brands: list[Brand], split: str) -> np.ndarray:
    """An RGBA logo of a brand that is not in the catalog (its colour is none of theirs)."""
    word = str(random.choice(DISTRACTOR_WORDS[split]))
    style = str(random.choice(DISTRACTOR_STYLES[split]))
    brand_colours = np.float32([[int(b.color[i : i + 2], 16) for i in (1, 3, 5)] for b in brands])
    while True:
        colour = np.float32(_colour(random))
        if np.min(np.linalg.norm(brand_colours - colour, axis=1)) > 90:
            break
    hex_colour = "#" + "".join(f"{int(v):02x}" for v in colour)
    if style == "badge":
        made_up = Brand(
            brand_id=f"x-{word}-{random.integers(1 << 16)}",
            name=word,
            advertiser_id="-",
            color=hex_colour,
        )
        return render_logo(made_up)
    width, height = LOGO_SIZE
    rgb = np.zeros((height, width, 3), np.uint8)
    alpha = np.zeros((height, width), np.uint8)
    ink = _colour(random)
    font = int(random.choice(FONTS))
    if style == "roundel":
        for canvas, value in ((rgb, tuple(int(v) for v in colour)), (alpha, 255)):
            cv2.ellipse(
                canvas,
                (width // 2, height // 2),
                (width // 2 - 2, height // 2 - 2),
                0,
                0,
                360,
                value,
                -1,
                cv2.LINE_AA,
            )
    elif style == "stripe":
        for canvas, value in ((rgb, tuple(int(v) for v in colour)), (alpha, 255)):
            cv2.rectangle(canvas, (0, height // 4), (width, 3 * height // 4), value, -1)
    scale = 2.0
    while scale > 0.5:
        (text_w, text_h), _ = cv2.getTextSize(word, font, scale, 3)
        if text_w <= width * 0.85:
            break
        scale -= 0.1
    origin = ((width - text_w) // 2, (height + text_h) // 2)
    cv2.putText(
        rgb,
        word,
        origin,
        font,
        scale,
        ink if style != "wordmark" else tuple(int(v) for v in colour),
        3,
        cv2.LINE_AA,
    )
    cv2.putText(alpha, word, origin, font, scale, 255, 3, cv2.LINE_AA)
    return np.dstack([rgb, alpha])
