"""`brandlake sample-media`: render a sample broadcast with brand logos and its ground truth.

    brandlake sample-media [--seconds 60] [--size 1280x720] [--seed 7] [--out DIR]

Writes `<name>.mp4` (H.264, and AAC: a synthetic commentator, `jobs/sample_media/soundtrack.py`),
`<name>.truth.parquet` (one row per logo per frame: brand, box in pixels, share visible, blur)
and `<name>.json` (how it was made, and `mentions`: each brand named in a caption or said, with
its text and the seconds it shows or is said in) into `DIR` (default `.brandlake/media`).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from jobs.common.config import Settings, add_set_option, parse_overrides
from jobs.entrypoint import command_settings
from jobs.ingest.ffmpeg import ffmpeg_binary
from jobs.sample_media.broadcast import Broadcast, TruthBox
from jobs.sample_media.soundtrack import render_soundtrack

log = logging.getLogger("brandlake.sample_media")
TRUTH_SCHEMA = pa.schema(
    [
        ("frame", pa.int32()),
        ("time_s", pa.float64()),
        ("brand_id", pa.string()),
        ("kind", pa.string()),
        ("x1", pa.int32()),
        ("y1", pa.int32()),
        ("x2", pa.int32()),
        ("y2", pa.int32()),
        ("visible", pa.float32()),
        ("blur", pa.float32()),
    ]
)


class SampleMediaError(RuntimeError):
    """The sample could not be rendered or encoded."""


def generate(
    settings: Settings, out_dir: Path, name: str | None = None, with_logos: bool = True
) -> Path:
    """Render and encode the broadcast `settings.sample_media` describes; returns the video.
    Without logos: the same scenes and camera, brand-free (the truth is empty)."""
    conf = settings.sample_media
    name = name or f"sample-{conf.height}p-{conf.seed}"
    out_dir.mkdir(parents=True, exist_ok=True)
    video, truth_path = out_dir / f"{name}.mp4", out_dir / f"{name}.truth.parquet"
    started = time.monotonic()
    broadcast = Broadcast(conf, settings.catalog.brands)
    soundtrack = out_dir / f"{name}.wav"
    said = render_soundtrack(
        np.random.default_rng([conf.seed, 29]), settings.catalog.brands, conf.seconds,
        conf.speech_gap_s, soundtrack,
    )  # fmt: skip
    # A keyframe every segment length, as an RTMP encoder is set up: ingest can then repackage
    # the video without re-encoding it.
    keyframe_every = round(settings.ingest.segment_seconds * conf.fps)
    encoder = subprocess.Popen(
        [
            ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{conf.width}x{conf.height}",
            "-r", str(conf.fps), "-i", "-", "-i", str(soundtrack),
            "-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", "96k", "-shortest",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", str(conf.crf), "-pix_fmt", "yuv420p",
            "-g", str(keyframe_every), "-movflags", "+faststart", str(video),
        ],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    truth: list[TruthBox] = []
    try:
        for index in range(broadcast.frames):
            frame, boxes = broadcast.render(index, with_logos)
            encoder.stdin.write(frame.tobytes())
            truth += boxes
            if index and index % (conf.fps * 10) == 0:
                log.info("rendered %d/%d frames", index, broadcast.frames)
        encoder.stdin.close()
    except BrokenPipeError:
        pass
    if encoder.wait() != 0:
        raise SampleMediaError(f"ffmpeg could not encode {video}: {encoder.stderr.read().decode()}")
    soundtrack.unlink()
    pq.write_table(
        pa.Table.from_pylist([asdict(b) for b in truth], schema=TRUTH_SCHEMA), truth_path
    )
    (out_dir / f"{name}.json").write_text(
        json.dumps(
            {
                "video": video.name,
                "truth": truth_path.name,
                **conf.model_dump(),
                "frames": broadcast.frames,
                "brands": sorted(broadcast.logos),
                "scenes": [
                    {"background": s.background, "start_s": s.start_s, "seconds": s.seconds}
                    for s in broadcast.scenes
                ],
                "mentions": [
                    {
                        "brand_id": c.brand_id,
                        "kind": "text",
                        "text": c.text,
                        "start_s": round(c.t_in, 4),
                        "end_s": round(c.t_out, 4),
                    }
                    for c in broadcast.captions
                    if c.brand_id
                ]
                + [
                    {
                        "brand_id": line.brand_id,
                        "kind": "speech",
                        "text": line.text,
                        "start_s": line.name_start_s,
                        "end_s": line.name_end_s,
                    }
                    for line in said
                    if line.brand_id
                ],
                "speech": [asdict(line) for line in said],
            },
            indent=2,
        )
    )
    log.info(
        "%s: %d frames, %d logo boxes, %.1fs to render and encode",
        video,
        broadcast.frames,
        len(truth),
        time.monotonic() - started,
    )
    return video


def truth_screen_seconds(
    truth: list[dict], min_visible: float, fps: float, sample_fps: float | None = None
) -> dict[str, float]:
    """Each brand's true screen seconds: frames in which at least `min_visible` of one of its
    logos shows (the line `exposure.min_visible_share` draws for labels and scoring too), over
    the frame rate. A frame with two boards of a brand shows it once. With `sample_fps`, only
    the frames analysis samples count, one sampling step each: what a perfect detector would
    measure at that rate (segments start on a sampled frame)."""
    every = round(fps / sample_fps) if sample_fps else 1
    shown = {
        (row["frame"], row["brand_id"])
        for row in truth
        if row["visible"] >= min_visible and row["frame"] % every == 0
    }
    seconds: dict[str, float] = {}
    for _frame, brand in shown:
        seconds[brand] = seconds.get(brand, 0.0) + every / fps
    return seconds


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(
        prog="brandlake sample-media", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--size", choices=("1280x720", "1920x1080"))
    parser.add_argument("--seed", type=int)
    parser.add_argument("--out", type=Path, help="folder for the video and its ground truth")
    add_set_option(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    overrides = parse_overrides(args.set)
    if args.seconds is not None:
        overrides["sample_media.seconds"] = args.seconds
    if args.seed is not None:
        overrides["sample_media.seed"] = args.seed
    if args.size:
        width, height = args.size.split("x")
        overrides.update({"sample_media.width": int(width), "sample_media.height": int(height)})
    settings = command_settings(overrides)
    return generate(settings, args.out or Path(settings.home) / ".brandlake" / "media")
