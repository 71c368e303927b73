"""The sample broadcast: deterministic, and its ground truth is where the logos really are."""

from __future__ import annotations

import json

import av
import numpy as np
import pyarrow.parquet as pq
import pytest

from jobs.common.config import load_settings
from jobs.sample_media import generate
from jobs.sample_media.broadcast import Broadcast, paste_logo, visible_shares


def small(seed: int = 3, seconds: float = 8.0):
    return load_settings(
        {
            "sample_media.seconds": seconds,
            "sample_media.width": 640,
            "sample_media.height": 360,
            "sample_media.seed": seed,
            "sample_media.scene_seconds": 3.0,
            "sample_media.captions": 0.0,  # logos alone (captions: their own test)
        }
    )


def test_same_seed_same_broadcast():
    settings = small()
    first = Broadcast(settings.sample_media, settings.catalog.brands)
    again = Broadcast(settings.sample_media, settings.catalog.brands)
    other = Broadcast(small(seed=4).sample_media, settings.catalog.brands)
    for index in (0, 45, 130, 200):
        frame, truth = first.render(index)
        frame_again, truth_again = again.render(index)
        assert np.array_equal(frame, frame_again) and truth == truth_again
    assert [s.background for s in first.scenes] != [s.background for s in other.scenes]


def test_every_brand_appears_and_scenes_cut():
    settings = small(seconds=20)
    broadcast = Broadcast(settings.sample_media, settings.catalog.brands)
    seen = {
        box.brand_id
        for index in range(0, broadcast.frames, 5)
        for box in broadcast.render(index)[1]
    }
    assert seen == {b.brand_id for b in settings.catalog.brands}
    assert len(broadcast.scenes) >= 3
    assert len({s.background for s in broadcast.scenes}) == len(broadcast.scenes)


def test_truth_boxes_hold_exactly_the_drawn_logos():
    """Pixels the logos change lie inside the truth boxes, and every fully visible, sharp box is
    mostly logo (a tilted logo leaves its box's corners to the background)."""
    settings = small(seed=5)
    broadcast = Broadcast(settings.sample_media, settings.catalog.brands)
    checked = 0
    for index in range(0, broadcast.frames, 6):
        scene = broadcast.scene_at(index / broadcast.fps)
        if any(b.occluder for b in scene.boards):
            continue  # occluders are foreground but not logos: judged by `visible` instead
        with_logos, truth = broadcast.render(index)
        background, _ = broadcast.render(index, with_logos=False)
        changed = np.abs(with_logos.astype(int) - background.astype(int)).max(axis=2) > 12
        inside = np.zeros_like(changed)
        for box in truth:
            inside[box.y1 : box.y2, box.x1 : box.x2] = True
            if box.visible > 0.95 and box.blur == 0:
                assert changed[box.y1 : box.y2, box.x1 : box.x2].mean() > 0.5, box
        assert changed[~inside].sum() == 0, index
        checked += bool(truth)
    assert checked >= 5


def test_held_out_scene_families_with_made_up_logos_keep_the_truth_exact():
    """A broadcast of held-out families: made-up logos share the screen, the truth holds the
    catalog's logos only, and every truth box has its share visible measured (not 0)."""
    settings = small(seed=6, seconds=12)
    conf = settings.sample_media.model_copy(
        update={"families": ["arena", "newsroom", "street"], "distractors": 2}
    )
    broadcast = Broadcast(conf, settings.catalog.brands)
    assert [s.background for s in broadcast.scenes][:3] == ["arena", "newsroom", "street"]
    assert all(len(s.distractors) == 2 for s in broadcast.scenes)
    visible = 0
    for index in range(0, broadcast.frames, 10):
        _, truth = broadcast.render(index)
        assert {b.brand_id for b in truth} <= {b.brand_id for b in settings.catalog.brands}
        visible += sum(b.visible >= 0.35 for b in truth)
        assert all(0.0 < b.visible <= 1.0 for b in truth)
    assert visible >= 10


def test_encoded_video_matches_the_rendered_frames(tmp_path):
    settings = small(seconds=4)
    video = generate(settings, tmp_path, name="clip")
    meta = json.loads((tmp_path / "clip.json").read_text())
    truth = pq.read_table(tmp_path / "clip.truth.parquet").to_pylist()
    broadcast = Broadcast(settings.sample_media, settings.catalog.brands)
    assert meta["frames"] == broadcast.frames == 120
    assert truth and {r["frame"] for r in truth} <= set(range(120))
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 640, 360)
        assert float(stream.average_rate) == 30
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(decoded) == 120
    for index in (0, 37, 119):
        rendered, boxes = broadcast.render(index)
        error = np.mean((decoded[index].astype(float) - rendered) ** 2)
        assert 10 * np.log10(255**2 / error) > 30  # PSNR in dB: the same picture
        assert [(b.brand_id, b.x1, b.y1) for b in boxes] == [
            (r["brand_id"], r["x1"], r["y1"]) for r in truth if r["frame"] == index
        ]


@pytest.mark.parametrize(
    ("size", "name"), [("1280x720", "sample-720p-7"), ("1920x1080", "sample-1080p-7")]
)
def test_cli_writes_video_truth_and_metadata(tmp_path, size, name):
    from jobs.sample_media import main

    video = main(["--seconds", "1", "--size", size, "--out", str(tmp_path)])
    assert video == tmp_path / f"{name}.mp4"
    assert (tmp_path / f"{name}.truth.parquet").exists()
    width, height = (int(n) for n in size.split("x"))
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height, stream.frames) == (width, height, 30)


def test_a_logo_drawn_over_another_hides_its_share():
    """The overlay is pasted after the board and covers its right half: the board's truth says
    half of it shows; the overlay, on top, shows whole."""
    frame = np.zeros((200, 400, 3), np.uint8)
    logo = np.full((50, 100, 4), 255, np.uint8)  # opaque

    def quad(x1, y1, x2, y2):
        return np.float32([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])

    board = paste_logo(frame, logo, quad(100, 50, 200, 100))
    overlay = paste_logo(frame, logo, quad(150, 40, 350, 110))
    assert board.visible == overlay.visible == 1.0  # each on its own
    assert visible_shares([board, overlay], frame.shape[:2]) == [pytest.approx(0.5, abs=0.02), 1.0]
    # an overlay half off screen shows half, whatever is under it
    edge = paste_logo(frame, logo, quad(350, 120, 450, 170))
    assert visible_shares([board, edge], frame.shape[:2])[1] == pytest.approx(0.5, abs=0.02)


def test_captions_name_brands_as_the_truth_says_and_hide_what_is_under_them():
    """Lower thirds: most name a brand (each brand before any twice), the rest none, and the
    matcher reads each template the way the truth says; a logo under a caption counts only
    what still shows."""
    from jobs.sample_media.broadcast import BRAND_CAPTIONS, PLAIN_CAPTIONS
    from udfs.text.mentions import brand_names, find_mentions
    from udfs.text.ocr import TextLine

    settings = load_settings({"sample_media.seconds": 60, "sample_media.captions": 1.0})
    brands = settings.catalog.brands
    broadcast = Broadcast(settings.sample_media, brands)
    named = [c.brand_id for c in broadcast.captions if c.brand_id]
    assert set(named[: len(brands)]) == {b.brand_id for b in brands}
    assert any(not c.brand_id for c in broadcast.captions)
    names = brand_names(brands)
    for caption in broadcast.captions:
        assert 2.5 <= caption.t_out - caption.t_in <= 5.0 or caption.t_out == pytest.approx(
            broadcast.scene_at(caption.t_in).start_s + broadcast.scene_at(caption.t_in).seconds
        )
        found = find_mentions([TextLine(caption.text, 1.0, (0, 0, 1, 1))], names)
        assert [m.brand_id for m in found] == ([caption.brand_id] if caption.brand_id else [])
    for template in PLAIN_CAPTIONS + tuple(t.format(name="") for t in BRAND_CAPTIONS):
        assert find_mentions([TextLine(template, 1.0, (0, 0, 1, 1))], names) == []
    # logos under the lower third: their visible share leaves out what it covers
    caption = broadcast.captions[0]
    index = int(caption.t_in * broadcast.fps) + 1
    frame, truth = broadcast.render(index)
    x1, y1, *_ = broadcast.caption_box()
    assert (frame[y1 + 2, x1 + 2] == (30, 30, 110)).all()
    plain = Broadcast(
        load_settings({"sample_media.seconds": 60, "sample_media.captions": 0.0}).sample_media,
        brands,
    )
    assert plain.captions == [] and [b.brand_id for b in plain.render(index)[1]] == [
        b.brand_id for b in truth
    ]
    for box, uncovered in zip(truth, plain.render(index)[1], strict=True):
        assert box.visible <= uncovered.visible
