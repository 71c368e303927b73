"""Landing and checkpoint pruning on real files: what is kept, what goes, and the playlist a
player reads never naming a deleted segment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from jobs.ingest.playlist import read_playlist
from jobs.maintenance.checkpoints import prune_checkpoint
from jobs.maintenance.landing import prune_stream

START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def landing(folder: Path, segments: int, ended: bool) -> Path:
    """A stream folder as ingest leaves it: 2 s segments from START and their playlist."""
    folder.mkdir(parents=True)
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:2", "#EXT-X-MEDIA-SEQUENCE:0",
             "#EXT-X-INDEPENDENT-SEGMENTS", "#EXT-X-DISCONTINUITY"]  # fmt: skip
    for n in range(segments):
        name = f"seg_{n:06d}.ts"
        (folder / name).write_bytes(b"ts")
        at = (START + timedelta(seconds=2 * n)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        lines += ["#EXTINF:2.000000,", f"#EXT-X-PROGRAM-DATE-TIME:{at}", name]
    if ended:
        lines.append("#EXT-X-ENDLIST")
    (folder / "index.m3u8").write_text("\n".join(lines) + "\n")
    return folder


def test_old_segments_go_and_the_playlist_lists_exactly_the_rest(tmp_path):
    folder = landing(tmp_path / "arena-live", segments=10, ended=True)
    result = prune_stream(folder, cutoff=START + timedelta(seconds=9))  # 0-3 ended by then
    assert result.segments_deleted == 4 and not result.stream_deleted
    entries, ended = read_playlist(folder / "index.m3u8")
    assert ended and [e.sequence for e in entries] == list(range(4, 10))
    assert entries[0].start_time == START + timedelta(seconds=8)
    assert sorted(p.name for p in folder.glob("seg_*.ts")) == [e.filename for e in entries]
    text = (folder / "index.m3u8").read_text()
    assert "#EXT-X-MEDIA-SEQUENCE:4" in text and text.startswith("#EXTM3U\n#EXT-X-VERSION:6")


def test_a_stream_entirely_older_than_the_retention_is_removed(tmp_path):
    folder = landing(tmp_path / "old", segments=3, ended=True)
    assert prune_stream(folder, cutoff=START + timedelta(days=1)).stream_deleted
    assert not folder.exists()


def test_a_live_playlist_is_left_whole(tmp_path):
    folder = landing(tmp_path / "live", segments=5, ended=False)
    result = prune_stream(folder, cutoff=START + timedelta(days=1))
    assert result.live and result.segments_deleted == 0
    assert len(list(folder.glob("seg_*.ts"))) == 5


def test_checkpoint_logs_older_than_the_retained_batches_go(tmp_path):
    for name, batches in (("offsets", range(0, 8)), ("commits", range(0, 7))):
        (tmp_path / name).mkdir()
        for b in batches:
            (tmp_path / name / str(b)).write_text("v1")
            (tmp_path / name / f".{b}.crc").write_text("")
    deleted = prune_checkpoint(tmp_path, retain=3)  # newest committed: 6 -> keep 4, 5, 6 (+7)
    assert sorted(int(p.name) for p in (tmp_path / "offsets").iterdir() if p.name.isdigit()) == [
        4, 5, 6, 7]  # fmt: skip
    assert sorted(int(p.name) for p in (tmp_path / "commits").iterdir() if p.name.isdigit()) == [
        4, 5, 6]  # fmt: skip
    assert deleted == 2 * 4 * 2  # offsets and commits of batches 0-3, each with its .crc
