"""One segment of real footage analysed: detections and context per sampled frame."""

from __future__ import annotations

import pytest

from tests.media import vtest_segment
from udfs.analysis.segment import Analyzers, analyse_segment
from udfs.decoding.frames import SegmentDecodeError
from udfs.detection.person import PersonDetector
from udfs.devices import torch_device


@pytest.fixture(scope="module")
def segment(tmp_path_factory):
    """Seconds 8 to 10 of vtest.avi as an ingest-made segment (frame 225 is at 9 s)."""
    return vtest_segment(tmp_path_factory.mktemp("seg"))


@pytest.fixture(scope="module")
def people():
    return PersonDetector(torch_device(), confidence=0.15, image_size=1280)


def test_a_segment_gives_rows_for_each_sampled_frame(segment, people):
    detections, context = analyse_segment(segment.as_uri(), Analyzers(people), fps=2.0)
    assert [round(c.pts_s, 1) for c in context] == [0.0, 0.5, 1.0, 1.5]
    assert context[0].motion == 0.0 and all(c.motion > 0 for c in context[1:])
    assert all(0.4 < c.brightness < 0.95 for c in context)  # a bright hall, not black frames
    # Frame 225 (9 s) has ~23 detectable people at this size; neighbours are alike.
    assert all(15 <= c.person_count <= 35 for c in context)
    assert len(detections) == sum(c.person_count for c in context)
    for row in detections:
        assert (row.kind, row.label, row.model_name) == ("person", "person", "yolo11n-pose")
        assert 0 <= row.x1 < row.x2 <= 1 and 0 <= row.y1 < row.y2 <= 1
        assert row.area_share == pytest.approx((row.x2 - row.x1) * (row.y2 - row.y1))


def test_an_undecodable_segment_raises_for_quarantine(tmp_path, people):
    broken = tmp_path / "seg_000009.ts"
    broken.write_bytes(b"\x47" + bytes(5000))
    with pytest.raises(SegmentDecodeError, match="seg_000009"):
        analyse_segment(broken.as_uri(), Analyzers(people))
