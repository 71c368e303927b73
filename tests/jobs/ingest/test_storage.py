"""Segment stores: the landing folder itself, or a copy on a filesystem named by URI."""

from __future__ import annotations

from jobs.common.config import load_settings
from jobs.ingest.storage import LocalSegmentStore, ObjectSegmentStore, segment_store, spool_dir


def test_local_lake_keeps_segments_where_ffmpeg_wrote_them(tmp_path, monkeypatch):
    monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))
    settings = load_settings()
    assert isinstance(segment_store(settings), LocalSegmentStore)
    folder = spool_dir(settings, "cam")
    assert str(folder) == settings.landing_uri("cam")
    segment = folder / "seg_000001.ts"
    folder.mkdir(parents=True)
    segment.write_bytes(b"ts")
    assert LocalSegmentStore().publish(segment, "cam") == segment.as_uri()


def test_a_lake_uri_uploads_each_segment(tmp_path, monkeypatch):
    monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))
    remote = tmp_path / "bucket"
    settings = load_settings({"lake.root": f"file://{remote}"})
    store = segment_store(settings)
    assert isinstance(store, ObjectSegmentStore)
    folder = spool_dir(settings, "cam")  # ffmpeg still writes locally, under the run dir
    assert str(folder).startswith(settings.run_dir)
    folder.mkdir(parents=True)
    (folder / "seg_000007.ts").write_bytes(b"segment bytes")
    uri = store.publish(folder / "seg_000007.ts", "cam")
    assert uri == f"file://{remote}/landing/cam/seg_000007.ts"
    assert (remote / "landing" / "cam" / "seg_000007.ts").read_bytes() == b"segment bytes"
