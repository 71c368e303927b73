"""The privacy rendition of a segment: the same frames at the same times, its sound kept, and
no face left for the detector to find."""

from __future__ import annotations

import av
import numpy as np
import pytest

from tests.media import face_clip
from udfs.decoding.frames import SegmentDecodeError
from udfs.effects.faces import FaceBlur
from udfs.effects.rendition import blur_segment


@pytest.fixture(scope="module")
def face_segment(tmp_path_factory):
    return face_clip(tmp_path_factory.mktemp("faces") / "seg_000003.ts")


def frames_of(path) -> tuple[list[int], list[np.ndarray]]:
    with av.open(str(path)) as container:
        decoded = list(container.decode(video=0))
        return [f.pts for f in decoded], [f.to_ndarray(format="rgb24") for f in decoded]


def test_every_frame_keeps_its_time_and_no_face_is_left(face_segment, tmp_path):
    faces = FaceBlur()
    out = tmp_path / "seg_000003.ts"
    rendered = blur_segment(face_segment.as_uri(), out, faces, detect_every=3)
    assert rendered.frames == 60 and rendered.looked == 20 and rendered.faces >= 18
    source_pts, source = frames_of(face_segment)
    blurred_pts, blurred = frames_of(out)
    assert blurred_pts == source_pts  # same count, same times: plays in step with the source
    for index in (0, 1, 2, 29, 31, 58, 59):  # looked at, and between looks
        assert faces.faces(source[index]), index
        assert faces.faces(blurred[index]) == [], index
    with av.open(str(out)) as container:
        assert container.streams.audio and container.streams.audio[0].codec_context.name == "aac"
    assert not list(tmp_path.glob(".*partial"))


def test_a_broken_segment_raises_and_leaves_no_file(tmp_path):
    broken = tmp_path / "seg_000009.ts"
    broken.write_bytes(b"\x47" + bytes(4000))
    out = tmp_path / "blurred.ts"
    with pytest.raises(SegmentDecodeError, match="seg_000009"):
        blur_segment(broken.as_uri(), out, FaceBlur())
    assert not out.exists() and not list(tmp_path.glob(".*partial"))
