"""Reading the HLS playlist ffmpeg writes: which segments are finished, how long, and when."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_SEQUENCE = re.compile(r"(\d+)\.ts$")


@dataclass(frozen=True)
class PlaylistEntry:
    sequence: int
    filename: str
    duration_s: float
    start_time: datetime | None  # from #EXT-X-PROGRAM-DATE-TIME


def read_playlist(path: Path) -> tuple[list[PlaylistEntry], bool]:
    """The segments a playlist lists, and whether it is ended (#EXT-X-ENDLIST)."""
    if not path.exists():
        return [], False
    entries: list[PlaylistEntry] = []
    duration, start, ended = None, None, False
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",")[0])
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            start = _parse_time(line.split(":", 1)[1])
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif line and not line.startswith("#"):
            match = _SEQUENCE.search(line)
            if match and duration is not None:
                entries.append(PlaylistEntry(int(match.group(1)), line, duration, start))
            duration, start = None, None
    return entries, ended


def _parse_time(text: str) -> datetime:
    # ffmpeg writes +0000; Python 3.11 wants +00:00.
    text = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", text.strip())
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
