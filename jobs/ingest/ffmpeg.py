"""Finding ffmpeg and building the one HLS command every ingest mode uses."""

from __future__ import annotations

import shutil
from pathlib import Path

from jobs.common.config import IngestConf

PLAYLIST = "index.m3u8"
SEGMENT_PATTERN = "seg_%06d.ts"


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
    source: list[str], out_dir: Path, conf: IngestConf, transcode: bool, realtime: bool = False
) -> list[str]:
    """ffmpeg arguments that turn `source` (input options and `-i URL`) into HLS in `out_dir`.

    Re-encoding forces a keyframe every segment length, so segments are exactly that long;
    copying keeps the publisher's keyframes (set the encoder's keyframe interval to match).
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
        *video,
        "-an",  # brandlake analyses pictures; audio would only cost bandwidth
        "-f", "hls",
        "-hls_time", str(seconds),
        "-hls_list_size", "0",
        "-hls_flags", "append_list+program_date_time+temp_file+independent_segments",
        "-hls_segment_filename", str(out_dir / SEGMENT_PATTERN),
        str(out_dir / PLAYLIST),
    ]  # fmt: skip
