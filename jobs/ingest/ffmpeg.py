"""Finding ffmpeg and building the one HLS command every ingest mode uses."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from jobs.common.config import IngestConf
from jobs.ingest.playlist import read_playlist

PLAYLIST = "index.m3u8"
SEGMENT_PATTERN = "seg_%06d.ts"
SEGMENT_FILE = re.compile(r"seg_(\d+)\.ts")


def start_number(out_dir: Path, last_announced: int) -> int:
    """ffmpeg's `-start_number` for a session in `out_dir`. With a playlist that lists
    segments, 0: ffmpeg numbers on after them (it adds this number to theirs). With none (a
    new stream, or a playlist emptied by a crash mid-write): the number after every segment
    announced or on disk, so a restart never overwrites a segment that was announced."""
    listed, _ = read_playlist(out_dir / PLAYLIST)
    if listed:
        return 0
    on_disk = [int(m.group(1)) for p in out_dir.iterdir() if (m := SEGMENT_FILE.fullmatch(p.name))]
    return max([last_announced, *on_disk]) + 1


class FfmpegNotFoundError(RuntimeError):
    """No ffmpeg binary: neither on PATH nor from the imageio-ffmpeg package."""


def ffmpeg_binary() -> str:
    """The system ffmpeg if there is one, else the static build imageio-ffmpeg ships."""
    system = shutil.which("ffmpeg")
    if system:
        return system
    try:
        import imageio_ffmpeg
    except ImportError:
        raise FfmpegNotFoundError(
            "no ffmpeg: install Debian's ffmpeg or the imageio-ffmpeg package (`make install`)"
        ) from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def hls_command(
    source: list[str],
    out_dir: Path,
    conf: IngestConf,
    transcode: bool,
    realtime: bool = False,
    start_number: int = 0,
) -> list[str]:
    """ffmpeg arguments that turn `source` (input options and `-i URL`) into HLS in `out_dir`.

    Re-encoding forces a keyframe every segment length, so segments are exactly that long;
    copying keeps the publisher's keyframes (set the encoder's keyframe interval to match).
    `start_number`: see `start_number()`.
    """
    seconds = conf.segment_seconds
    video = (
        [
            "-c:v", "libx264",
            "-preset", conf.x264_preset,
            "-pix_fmt", "yuv420p",
            "-force_key_frames", f"expr:gte(t,n_forced*{seconds})",
            "-fps_mode", "passthrough",  # every source frame once: no duplicates, no drops
        ]
        if transcode
        else ["-c:v", "copy"]
    )  # fmt: skip
    return [
        ffmpeg_binary(),
        "-hide_banner",
        "-nostdin",
        "-loglevel", "warning",
        *(["-re"] if realtime else []),
        *source,
        "-map", "0:v:0",
        "-map", "0:a:0?",  # the first audio track, where there is one (speech mentions)
        *video,
        # mono AAC whatever the source's codec: what HLS players and the speech step read (no
        # bitrate option: ffmpeg warns about it when the source has no audio)
        "-c:a", "aac", "-ac", "1",
        "-f", "hls",
        "-start_number", str(start_number),
        "-hls_time", str(seconds),
        "-hls_list_size", "0",
        "-hls_flags", "append_list+program_date_time+temp_file+independent_segments",
        "-hls_segment_filename", str(out_dir / SEGMENT_PATTERN),
        str(out_dir / PLAYLIST),
    ]  # fmt: skip
