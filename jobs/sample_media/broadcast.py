"""A sample broadcast: scenes, camera moves and cuts, brand logos on boards and as overlays,
and the exact ground truth of where each logo is in every frame.

A scene is one backdrop seen by a moving camera (pan and zoom); scenes cut to one another.
Backdrops come from the scene families `sample_media.families` names
(`jobs/sample_media/scenes.py`): by default `photo`, the photographs that ship with
scikit-image. Logos of the catalog's brands appear on sponsor boards that belong to the scene
(in the backdrop's own slots where it has them: LED panels, screens, posters; they move with
the camera, seen in perspective, maybe blurred, maybe crossed by an occluder) and as screen
overlays that slide in and out. `sample_media.distractors` made-up logos per scene (of the
held-out kinds) share the screen and are never in the truth. `sample_media.captions` of the
scenes show a lower third in plain text (not a logo), most naming a brand by its name or an
alias, some naming none; they are drawn over everything, so they hide what is under them, and
their truth is the brand and the seconds shown. Everything follows from the seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from jobs.common.config import Brand, SampleMediaConf
from jobs.sample_media.logos import LOGO_SIZE, render_logo
from jobs.sample_media.naming import next_named
from jobs.sample_media.scenes import FAMILIES, load_photo, render_distractor

# Bump when the broadcast (video and truth) a seed gives changes. Captions (their own random
# stream, none with `captions: 0`) left the logo-only broadcasts of a seed as they were.
BROADCAST_VERSION = 1

# Lower thirds: "{name}" is a brand's name or alias. The plain ones name no brand, not even
# within a misread letter (tests/jobs/sample_media/test_broadcast.py checks the matcher agrees).
BRAND_CAPTIONS = (
    "Brought to you by {name}",
    "{name} player of the match",
    "Official partner: {name}",
    "Half-time presented by {name}",
    "The {name} cup, live",
)
PLAIN_CAPTIONS = (
    "Live from the arena",
    "Weather update for the weekend",
    "Coming up next: the highlights",
    "Interview with the head coach",
    "Final score two to one",
)
CAPTION_INK, CAPTION_BAR = (255, 255, 255), (30, 30, 110)  # white on navy: no brand's colours

BACKGROUNDS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "stereo_motorcycle",
    "hubble_deep_field",
    "retina",
    "camera",
    "brick",
    "grass",
)  # the `photo` family's scenes, in a broadcast


@dataclass(frozen=True)
class Camera:
    """Where the camera looks in the photograph: centre and width of the view, start to end."""

    start: tuple[float, float, float]  # cx, cy, view width (photograph pixels)
    end: tuple[float, float, float]

    def at(self, progress: float) -> tuple[float, float, float]:
        eased = 0.5 - 0.5 * math.cos(math.pi * min(max(progress, 0.0), 1.0))
        return tuple(a + (b - a) * eased for a, b in zip(self.start, self.end, strict=True))


@dataclass(frozen=True)
class Board:
    """A logo fixed in the scene: four corners in photograph pixels, shown from t_in to t_out."""

    brand_id: str  # "" for a made-up logo (not in the truth)
    corners: np.ndarray  # 4x2, logo corners in photograph coordinates (tl, tr, br, bl)
    t_in: float
    t_out: float
    blur: float
    occluder: tuple[float, float, float] | None  # photograph x at t_in, x at t_out, radius


@dataclass(frozen=True)
class Overlay:
    """A logo fixed on screen (a corner bug), sliding in from the edge."""

    brand_id: str
    box: tuple[int, int, int, int]  # x, y, width, height on screen
    t_in: float
    t_out: float
    opacity: float


@dataclass
class Scene:
    background: str
    photo: np.ndarray
    start_s: float
    seconds: float
    camera: Camera
    boards: list[Board] = field(default_factory=list)
    overlays: list[Overlay] = field(default_factory=list)
    slots: list[np.ndarray] = field(default_factory=list)  # the backdrop's places for a logo
    distractors: list[tuple[Board, np.ndarray]] = field(default_factory=list)  # board, logo


@dataclass(frozen=True)
class Caption:
    """A lower third: plain text on a bar across the middle of the bottom of the screen."""

    text: str
    brand_id: str  # "" when it names no brand
    t_in: float
    t_out: float


@dataclass(frozen=True)
class TruthBox:
    frame: int
    time_s: float
    brand_id: str
    kind: str  # board | overlay
    x1: int
    y1: int
    x2: int
    y2: int
    visible: float  # share of the logo's pixels in frame and not occluded
    blur: float


class Broadcast:
    """The script of a sample broadcast; renders frames and their ground truth on demand."""

    def __init__(self, conf: SampleMediaConf, brands: list[Brand]) -> None:
        self.conf = conf
        self.width, self.height, self.fps = conf.width, conf.height, conf.fps
        self.frames = round(conf.seconds * conf.fps)
        self.logos = {b.brand_id: render_logo(b) for b in brands}
        self.random = np.random.default_rng(conf.seed)
        self.brands = brands
        self.photos = (
            {name: self._fit(load_photo(name)) for name in BACKGROUNDS}
            if "photo" in conf.families
            else {}
        )
        self.scenes = self._script([b.brand_id for b in brands])
        # A random stream of their own: the logos a seed gives do not depend on captions.
        self.captions = self._captions(np.random.default_rng([conf.seed, 23]), brands)

    # -- the script ------------------------------------------------------------------------

    def _fit(self, photo: np.ndarray) -> np.ndarray:
        # Large enough that the camera can pan and zoom at full output resolution.
        scale = max(1.4 * self.width / photo.shape[1], 1.4 * self.height / photo.shape[0], 1.0)
        size = (int(photo.shape[1] * scale), int(photo.shape[0] * scale))
        return cv2.resize(photo, size, interpolation=cv2.INTER_CUBIC) if scale > 1 else photo

    def _script(self, brand_ids: list[str]) -> list[Scene]:
        scenes, start, order = [], 0.0, list(self.random.permutation(len(BACKGROUNDS)))
        unseen = list(brand_ids)
        families = self.conf.families
        while start < self.conf.seconds:
            seconds = float(min(max(self.random.exponential(self.conf.scene_seconds), 2.5), 12.0))
            seconds = min(seconds, self.conf.seconds - start)
            family = families[len(scenes) % len(families)]
            if family == "photo":
                name = BACKGROUNDS[order[len(scenes) % len(order)]]
                photo, slots = self.photos[name], []
            else:
                # A backdrop larger than the frame, so the camera can pan and zoom over it.
                backdrop = FAMILIES[family](
                    self.random, round(1.4 * self.height), round(1.4 * self.width)
                )
                name, photo, slots = family, backdrop.image, list(backdrop.slots)
            scene = Scene(name, photo, start, seconds, self._camera(photo), slots=slots)
            count = int(self.random.integers(1, 3))
            for _ in range(count):
                brand = unseen.pop(0) if unseen else str(self.random.choice(brand_ids))
                scene.boards.append(self._board(scene, brand))
            for _ in range(self.conf.distractors):
                logo = render_distractor(self.random, self.brands, "held_out")
                scene.distractors.append((self._board(scene, ""), logo))
            if self.random.random() < 0.5:
                scene.overlays.append(self._overlay(scene, str(self.random.choice(brand_ids))))
            scenes.append(scene)
            start += seconds
        return scenes

    def _captions(self, random: np.random.Generator, brands: list[Brand]) -> list[Caption]:
        """One lower third in `sample_media.captions` of the scenes, 2.5-5 s long (never past
        the cut); seven in ten name a brand, each brand once before any twice."""
        captions, unnamed = [], list(brands)
        for scene in self.scenes:
            if random.random() >= self.conf.captions or scene.seconds < 2.5:
                continue
            t_in = scene.start_s + float(random.uniform(0, scene.seconds - 2.5))
            t_out = min(scene.start_s + scene.seconds, t_in + float(random.uniform(2.5, 5.0)))
            if random.random() < 0.7:
                brand, name = next_named(random, brands, unnamed)
                text = str(random.choice(BRAND_CAPTIONS)).format(name=name)
                captions.append(Caption(text, brand.brand_id, t_in, t_out))
            else:
                captions.append(Caption(str(random.choice(PLAIN_CAPTIONS)), "", t_in, t_out))
        return captions

    def caption_box(self) -> tuple[int, int, int, int]:
        """Where lower thirds go (x1, y1, x2, y2): the middle half of the width, clear of the
        corner overlays."""
        return (self.width // 4, round(0.8 * self.height), 3 * self.width // 4,
                round(0.9 * self.height))  # fmt: skip

    def _camera(self, photo: np.ndarray) -> Camera:
        rows, cols = photo.shape[:2]
        aspect = self.height / self.width

        def view() -> tuple[float, float, float]:
            most = min(cols, rows / aspect)
            width = float(self.random.uniform(0.55, 0.95) * most)
            half_w, half_h = width / 2, width * aspect / 2
            cx = float(self.random.uniform(half_w, cols - half_w))
            cy = float(self.random.uniform(half_h, rows - half_h))
            return cx, cy, width

        return Camera(view(), view())

    def _board(self, scene: Scene, brand_id: str) -> Board:
        # Somewhere both the first and the last view see, so the board stays in shot; in one of
        # the backdrop's slots when one is in view (then the slot is taken).
        views = [scene.camera.at(0), scene.camera.at(1)]
        in_view = [
            i
            for i, slot in enumerate(scene.slots)
            if all(
                abs(slot[:, 0].mean() - cx) < 0.4 * w
                and abs(slot[:, 1].mean() - cy) < 0.4 * w * self.height / self.width
                for cx, cy, w in views
            )
        ]
        if in_view and self.random.random() < 0.7:
            corners = scene.slots.pop(in_view[int(self.random.integers(len(in_view)))])
            width = float(np.ptp(corners[:, 0]))
            height = width * LOGO_SIZE[1] / LOGO_SIZE[0]
            cx = float(corners[:, 0].mean())
            return self._timed_board(scene, brand_id, corners.astype(float), width, height, cx)
        aspect = self.height / self.width
        left = max(cx - w / 2 for cx, _, w in views)
        right = min(cx + w / 2 for cx, _, w in views)
        top = max(cy - w * aspect / 2 for _, cy, w in views)
        bottom = min(cy + w * aspect / 2 for _, cy, w in views)
        view_width = min(w for _, _, w in views)
        if scene.background in BACKGROUNDS:
            width = float(self.random.uniform(0.14, 0.32) * view_width)
        else:  # other scenes have smaller, more distant boards too
            width = float(np.exp(self.random.uniform(np.log(0.05), np.log(0.3))) * view_width)
        height = width * LOGO_SIZE[1] / LOGO_SIZE[0]
        cx = float(
            self.random.uniform(left + width * 0.6, max(left + width * 0.6, right - width * 0.6))
        )
        cy = float(self.random.uniform(top + height, max(top + height, bottom - height)))
        angle = math.radians(self.random.uniform(-10, 10))
        corners = np.array(
            [
                [-width / 2, -height / 2],
                [width / 2, -height / 2],
                [width / 2, height / 2],
                [-width / 2, height / 2],
            ]
        )
        # Perspective: one side nearer the camera than the other.
        skew = self.random.uniform(-0.18, 0.18)
        corners[:, 1] *= 1 + skew * np.sign(corners[:, 0])
        rotation = np.array(
            [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
        )
        corners = corners @ rotation.T + [cx, cy]
        return self._timed_board(scene, brand_id, corners, width, height, cx)

    def _timed_board(
        self, scene: Scene, brand_id: str, corners: np.ndarray, width: float, height: float, cx
    ) -> Board:
        """When the board shows, its blur and maybe a figure passing in front of it."""
        t_in = (
            float(self.random.uniform(0, 0.3) * scene.seconds)
            if self.random.random() < 0.5
            else 0.0
        )
        t_out = (
            scene.seconds
            if self.random.random() < 0.6
            else float(self.random.uniform(0.65, 1.0) * scene.seconds)
        )
        blur = float(self.random.choice([0.0, 0.0, 0.8, 1.6, 2.4]))
        occluder = None
        if self.random.random() < 0.35:
            radius = height * float(self.random.uniform(0.4, 0.8))
            occluder = (cx - width, cx + width, radius)
        return Board(brand_id, corners, scene.start_s + t_in, scene.start_s + t_out, blur, occluder)

    def _overlay(self, scene: Scene, brand_id: str) -> Overlay:
        width = int(self.random.uniform(0.12, 0.2) * self.width)
        height = int(width * LOGO_SIZE[1] / LOGO_SIZE[0])
        margin = int(0.03 * self.width)
        corner = int(self.random.integers(4))
        x = margin if corner in (0, 3) else self.width - margin - width
        y = margin if corner in (0, 1) else self.height - margin - height
        t_in = scene.start_s + float(self.random.uniform(0.1, 0.4) * scene.seconds)
        t_out = min(scene.start_s + scene.seconds, t_in + float(self.random.uniform(2.0, 5.0)))
        return Overlay(
            brand_id, (x, y, width, height), t_in, t_out, float(self.random.uniform(0.8, 1.0))
        )

    # -- rendering -------------------------------------------------------------------------

    def scene_at(self, time_s: float) -> Scene:
        for scene in self.scenes:
            if time_s < scene.start_s + scene.seconds:
                return scene
        return self.scenes[-1]

    def render(self, index: int, with_logos: bool = True) -> tuple[np.ndarray, list[TruthBox]]:
        """Frame `index` (RGB, height x width x 3) and the logos visible in it."""
        time_s = index / self.fps
        scene = self.scene_at(time_s)
        cx, cy, view_width = scene.camera.at((time_s - scene.start_s) / scene.seconds)
        scale = self.width / view_width
        to_frame = np.array(
            [[scale, 0, self.width / 2 - scale * cx], [0, scale, self.height / 2 - scale * cy]]
        )
        frame = cv2.warpAffine(
            scene.photo, to_frame, (self.width, self.height), flags=cv2.INTER_LINEAR
        )
        truth: list[TruthBox] = []
        if not with_logos:
            return frame, truth
        # Made-up logos first: they never cover a catalog logo, so the truth stays exact.
        for board, logo in scene.distractors:
            if board.t_in <= time_s < board.t_out:
                self._draw_board(frame, board, logo, time_s, to_frame, scale)
        drawn: list[tuple[PastedLogo, str, str, float]] = []  # in drawing order
        for board in scene.boards:
            if board.t_in <= time_s < board.t_out:
                logo = self.logos[board.brand_id]
                pasted = self._draw_board(frame, board, logo, time_s, to_frame, scale)
                if pasted:
                    drawn.append((pasted, board.brand_id, "board", board.blur))
        for overlay in scene.overlays:
            if overlay.t_in <= time_s < overlay.t_out:
                x, y, width, height = overlay.box
                slide = min((time_s - overlay.t_in) / 0.4, 1.0)  # slides in over 0.4 s
                offset = (1 - slide) * (width + x if x < self.width / 2 else self.width - x)
                x = x - offset if x < self.width / 2 else x + offset
                corners = np.array(
                    [[x, y], [x + width, y], [x + width, y + height], [x, y + height]]
                )
                logo = self.logos[overlay.brand_id]
                pasted = paste_logo(frame, logo, corners, 0.0, overlay.opacity, None)
                if pasted:
                    drawn.append((pasted, overlay.brand_id, "overlay", 0.0))
        logos = [pasted for pasted, *_ in drawn]
        caption = next((c for c in self.captions if c.t_in <= time_s < c.t_out), None)
        if caption is not None:
            logos.append(self._draw_caption(frame, caption.text))  # covers what is under it
        shares = visible_shares(logos, (self.height, self.width))
        for (pasted, brand_id, kind, blur), share in zip(drawn, shares, strict=False):
            truth.append(TruthBox(index, time_s, brand_id, kind, *pasted.box, share, blur))
        return frame, truth

    def _draw_caption(self, frame: np.ndarray, text: str) -> PastedLogo:
        """Draws the lower third; returns it as what covers the logos under it."""
        x1, y1, x2, y2 = self.caption_box()
        cv2.rectangle(frame, (x1, y1), (x2 - 1, y2 - 1), CAPTION_BAR, -1)
        font, thickness = cv2.FONT_HERSHEY_DUPLEX, max(1, round(self.height / 360))
        scale = (y2 - y1) * 0.5 / 22  # Hershey glyphs are about 22 px tall at scale 1
        (width, height), _ = cv2.getTextSize(text, font, scale, thickness)
        if width > 0.94 * (x2 - x1):
            scale *= 0.94 * (x2 - x1) / width
            (width, height), _ = cv2.getTextSize(text, font, scale, thickness)
        origin = (x1 + (x2 - x1 - width) // 2, (y1 + y2 + height) // 2)
        cv2.putText(frame, text, origin, font, scale, CAPTION_INK, thickness, cv2.LINE_AA)
        area = (x2 - x1) * (y2 - y1)
        return PastedLogo((x1, y1, x2, y2), 1.0, np.ones((y2 - y1, x2 - x1), np.float32), area)

    @staticmethod
    def _draw_board(frame, board: Board, logo, time_s: float, to_frame, scale: float):
        corners = board.corners @ to_frame[:, :2].T + to_frame[:, 2]
        occluder = None
        if board.occluder is not None:
            x0, x1, radius = board.occluder
            progress = (time_s - board.t_in) / max(board.t_out - board.t_in, 1e-6)
            centre = np.array([x0 + (x1 - x0) * progress, board.corners[:, 1].mean()])
            occluder = (centre @ to_frame[:, :2].T + to_frame[:, 2], radius * scale)
        return paste_logo(frame, logo, corners, board.blur, 1.0, occluder)


def paste_logo(
    frame: np.ndarray,
    logo: np.ndarray,
    corners: np.ndarray,
    blur: float = 0.0,
    opacity: float = 1.0,
    occluder: tuple[tuple[float, float], float] | None = None,
    motion: tuple[float, float] = (0.0, 0.0),
) -> PastedLogo | None:
    """Warp an RGBA `logo` onto the quad `corners` (tl, tr, br, bl) of `frame`, in place;
    `blur` is a Gaussian's sigma, `motion` a streak (length in pixels, angle in degrees) as a
    panning camera smears a board.

    Returns the box of the logo's part inside the frame and the share of its pixels that are in
    frame and not under `occluder` ((centre, radius), drawn on top), or None when nothing of it
    shows. (Logos pasted after it can cover it too: see `visible_shares`.)
    """
    height, width = frame.shape[:2]
    x1, y1 = np.floor(corners.min(axis=0)).astype(int)
    x2, y2 = np.ceil(corners.max(axis=0)).astype(int)
    cx1, cy1 = max(x1, 0), max(y1, 0)
    cx2, cy2 = min(x2, width), min(y2, height)
    if cx2 - cx1 < 2 or cy2 - cy1 < 2:
        return None
    # Warp into the whole quad's box, so the visible share counts what falls off screen.
    source = np.float32(
        [[0, 0], [logo.shape[1], 0], [logo.shape[1], logo.shape[0]], [0, logo.shape[0]]]
    )
    target = np.float32(corners - [x1, y1])
    warp = cv2.getPerspectiveTransform(source, target)
    warped = cv2.warpPerspective(logo, warp, (x2 - x1, y2 - y1), flags=cv2.INTER_LINEAR)
    if blur:
        warped = cv2.GaussianBlur(warped, (0, 0), blur)
    if motion[0] >= 2:
        warped = cv2.filter2D(warped, -1, motion_kernel(*motion))
    alpha = warped[..., 3].astype(np.float32) / 255 * opacity
    total = float(alpha.sum())
    if occluder is not None:
        (ox, oy), radius = occluder
        mask = np.ones(alpha.shape, np.float32)
        cv2.circle(mask, (int(ox - x1), int(oy - y1)), int(radius), 0.0, -1, cv2.LINE_AA)
        alpha = alpha * mask
    inside = alpha[cy1 - y1 : cy2 - y1, cx1 - x1 : cx2 - x1]
    region = frame[cy1:cy2, cx1:cx2].astype(np.float32)
    colour = warped[cy1 - y1 : cy2 - y1, cx1 - x1 : cx2 - x1, :3].astype(np.float32)
    frame[cy1:cy2, cx1:cx2] = (
        region * (1 - inside[..., None]) + colour * inside[..., None]
    ).astype(np.uint8)
    if occluder is not None:
        (ox, oy), radius = occluder
        # The occluder itself: a dark figure passing in front of the logo.
        cv2.circle(frame, (int(ox), int(oy)), int(radius), (35, 30, 28), -1, cv2.LINE_AA)
    visible = float(inside.sum()) / total if total else 0.0
    if visible <= 0.0:
        return None
    return PastedLogo((int(cx1), int(cy1), int(cx2), int(cy2)), round(visible, 4), inside, total)


def motion_kernel(length: float, angle: float) -> np.ndarray:
    """A normalised line kernel: the streak a point leaves during a pan."""
    size = int(length) | 1
    kernel = np.zeros((size, size), np.float32)
    kernel[size // 2, :] = 1.0
    rotation = cv2.getRotationMatrix2D((size / 2 - 0.5, size / 2 - 0.5), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (size, size))
    return kernel / max(float(kernel.sum()), 1e-6)


@dataclass(frozen=True)
class PastedLogo:
    box: tuple[int, int, int, int]  # its part inside the frame: x1, y1, x2, y2
    visible: float  # share of its pixels in frame and not under its occluder
    alpha: np.ndarray  # its opacity over `box`, 0..1 (what it covers of anything under it)
    total: float  # its opacity summed over the whole logo, in frame or not


def visible_shares(
    drawn: list[PastedLogo],
    shape: tuple[int, int],
    window: tuple[int, int, int, int] | None = None,
) -> list[float]:
    """Each logo's share of pixels left showing once the logos drawn after it are on top
    (a channel's overlay over a pitch-side board hides part of the board); with `window`
    (x1, y1, x2, y2), only what shows inside it counts (a crop of the frame)."""
    covered = np.zeros(shape, np.float32)  # how much of each pixel later logos hide, 0..1
    outside = np.zeros(shape, np.float32)  # 1 where the crop does not see
    if window is not None:
        outside[:] = 1.0
        outside[window[1] : window[3], window[0] : window[2]] = 0.0
    shares = [0.0] * len(drawn)
    for position in range(len(drawn) - 1, -1, -1):
        logo = drawn[position]
        x1, y1, x2, y2 = logo.box
        under = covered[y1:y2, x1:x2]
        hidden = 1 - (1 - under) * (1 - outside[y1:y2, x1:x2])
        shares[position] = round(float((logo.alpha * (1 - hidden)).sum()) / logo.total, 4)
        covered[y1:y2, x1:x2] = 1 - (1 - under) * (1 - logo.alpha)
    return shares
