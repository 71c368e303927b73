"""The landing area kept to `ingest.retention_hours`: old segments deleted, their playlists
rewritten first (atomically), so a player never asks for a segment that is gone.

A playlist ingest is still writing (no #EXT-X-ENDLIST) is left whole: ffmpeg rewrites the whole
list on every segment, and would list deleted segments again. Its segments go once it ends.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from jobs.common.config import Settings, join_uri
from jobs.ingest.playlist import PlaylistEntry, read_playlist

log = logging.getLogger("brandlake.maintenance")
PLAYLIST = "index.m3u8"


@dataclass
class LandingResult:
    stream_id: str
    segments_deleted: int = 0
    stream_deleted: bool = False
    live: bool = False  # still being written: left alone


def _ends(entry: PlaylistEntry, fallback: datetime) -> datetime:
    start = entry.start_time or fallback
    return start + timedelta(seconds=entry.duration_s)


def rewrite_playlist(path: Path, keep: set[str]) -> None:
    """The playlist with only the segments in `keep` (each with its own tags), and its media
    sequence moved to the first one kept; written to a temporary file and renamed into place."""
    header, blocks, pending, tail = [], [], [], []
    for line in path.read_text().splitlines():
        if line.startswith("#EXT-X-MEDIA-SEQUENCE"):
            continue
        if line == "#EXT-X-ENDLIST":
            tail.append(line)
        elif (
            not blocks
            and not pending
            and not line.startswith(("#EXTINF", "#EXT-X-PROGRAM", "#EXT-X-DISC"))
        ):
            header.append(line)
        elif line.startswith("#") or not line.strip():
            pending.append(line)
        else:
            blocks.append((line, pending))
            pending = []
    kept = [(name, tags) for name, tags in blocks if name in keep]
    first = int("".join(c for c in Path(kept[0][0]).stem if c.isdigit())) if kept else 0
    lines = [*header, f"#EXT-X-MEDIA-SEQUENCE:{first}"]
    for name, tags in kept:
        lines += [*tags, name]
    temporary = path.with_suffix(".m3u8.tmp")
    temporary.write_text("\n".join([*lines, *tail]) + "\n")
    os.replace(temporary, path)


def prune_stream(folder: Path, cutoff: datetime) -> LandingResult:
    """Delete the segments of one stream's landing folder that ended before `cutoff`."""
    result = LandingResult(folder.name)
    playlist = folder / PLAYLIST
    entries, ended = read_playlist(playlist)
    if not ended:
        result.live = True
        return result
    modified = datetime.fromtimestamp(playlist.stat().st_mtime, cutoff.tzinfo)
    old = {e.filename for e in entries if _ends(e, modified) < cutoff}
    if not old:
        return result
    if len(old) == len(entries):
        shutil.rmtree(folder)
        result.segments_deleted, result.stream_deleted = len(old), True
        return result
    rewrite_playlist(playlist, {e.filename for e in entries} - old)
    for name in old:
        (folder / name).unlink(missing_ok=True)
    result.segments_deleted = len(old)
    return result


def prune_landing(settings: Settings, now: datetime) -> list[LandingResult]:
    """Every stream's landing folder pruned to `ingest.retention_hours`."""
    if "://" in settings.lake.root:
        log.info("landing on object storage: its retention is the bucket's lifecycle rule")
        return []
    root = Path(join_uri(settings.lake.root, settings.ingest.landing))
    if not root.exists():
        return []
    cutoff = now - timedelta(hours=settings.ingest.retention_hours)
    results = [
        prune_stream(folder, cutoff)
        for folder in sorted(root.iterdir())
        if (folder / PLAYLIST).exists()
    ]
    for r in results:
        if r.segments_deleted:
            log.info(
                "landing %s: %d segments deleted%s",
                r.stream_id,
                r.segments_deleted,
                " (the whole stream)" if r.stream_deleted else "",
            )
    return results
