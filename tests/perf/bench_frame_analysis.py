"""Frames analysed per second: frame_analysis on Spark vs. the same models in a plain loop.

    make bench                       (BENCH_VIDEO_SECONDS=10 make bench for a quicker run)

A 1080p30 sample broadcast is ingested into 2 s segments; both paths analyse the same segments
at the configured sampling rate (2 fps) with every analyzer: brand detector, person detector,
scene embedder, safety model. The plain loop runs in this process with torch's default threads,
four ways: the brand detector at 384 px without boundary frames (the settings before the
generalising detector), at 640 px without them, at 640 px with them, and the default (640 px,
boundary frames, colour check);
Spark runs the streaming job until caught up, three times: cold (Python workers start and load
the models) and warm (a long-running stream's steady state) with the default delta-rs writer,
then warm with delta-spark. Real-time factor: seconds of video analysed
per wall second (frames/s counts the boundary frames too, which cost less: brands only). The
brand detector is the registry's champion (the shipped one), else a one-epoch model trained here
(same architecture and input size, so the same cost per frame).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

from jobs.common.registry import NoChampionError, champion
from jobs.frame_analysis import analyzers_for, resolve_models, run
from jobs.ingest.run import ingest
from jobs.sample_media import generate
from jobs.train.brand_detector import train_brand_detector
from tests.support import read_table
from udfs.analysis.segment import analyse_segment

SECONDS = float(os.environ.get("BENCH_VIDEO_SECONDS", "30"))
SAMPLE_FPS = 2.0


def brand_model(settings) -> str:
    try:
        return champion(settings, settings.models.brand_detector.name).label
    except NoChampionError:
        train_brand_detector(settings, "bench", device="cpu")
        return champion(settings, settings.models.brand_detector.name).label + " (1 epoch)"


def test_frame_analysis_throughput(isolated_settings, spark, tmp_path):
    base = isolated_settings(
        sample_media__seconds=SECONDS,
        sample_media__width=1920,
        sample_media__height=1080,
        jobs__frame_analysis__sample_fps=SAMPLE_FPS,
        train__profiles__bench={"images": 40, "image_size": 160, "epochs": 1, "batch": 8,
                                "patience": 1},
    )  # fmt: skip
    label = brand_model(base)
    video = generate(base, tmp_path / "media", name="bench")
    result = ingest(base, "bench", ["-i", str(video)], transcode=True)
    segments = sorted(result.landing.glob("*.ts"))
    conf = base.jobs.frame_analysis
    print(
        f"\nframe_analysis throughput: {SECONDS:.0f} s of 1080p30 in {len(segments)} segments, "
        f"{conf.sample_fps} frames/s sampled, {os.cpu_count()} cores, brand detector {label}"
    )

    models = resolve_models(base)
    default = f"{models.brand_image_size} px + boundary frames"
    variants = [("384 px, no boundary frames", 384, False, None),
                ("640 px, no boundary frames", 640, False, None),
                (f"{default}, no colour check", models.brand_image_size, conf.refine_boundaries,
                 None),
                (f"{default} + colour check (default)", models.brand_image_size,
                 conf.refine_boundaries, models.brand_colour_check)]  # fmt: skip
    plain_rates = []
    for name, image_size, refine, colour_check in variants:
        analyzers = analyzers_for(
            replace(models, brand_image_size=image_size, brand_colour_check=colour_check)
        )
        analyzers.warm_up()
        started = time.perf_counter()
        contexts = [
            analyse_segment(s.as_uri(), analyzers, conf.sample_fps, conf.batch_size,
                            refine_boundaries=refine)[1]
            for s in segments
        ]  # fmt: skip
        elapsed = time.perf_counter() - started
        frames = sum(len(c) for c in contexts)
        boundary = sum(f.refined for c in contexts for f in c)
        plain_rates.append(report(f"plain loop, brand detector {name}", frames, elapsed))
        print(f"    {boundary} boundary frames: {boundary / SECONDS * 60:.0f} per minute of video")
    plain = plain_rates[-1]
    print(
        f"  ratio of real-time factors, plain loop: 640 px / 384 px "
        f"{plain_rates[1] / plain_rates[0]:.2f}; default / 384 px without boundary frames "
        f"{plain_rates[3] / plain_rates[0]:.2f}; colour check / none "
        f"{plain_rates[3] / plain_rates[2]:.2f}"
    )

    rates = {}
    # Cold (Python workers start and load the models), then warm, on the default delta-rs
    # writer; then warm on the delta-spark writer.
    runs = [("delta-rs", "cold workers"), ("delta-rs", "warm workers"), ("spark", "warm workers")]
    for writer, attempt in runs:
        folder = tmp_path / f"{writer}-{attempt.split()[0]}"
        settings = base.model_copy(
            update={
                "delta": base.delta.model_copy(update={"writer": writer}),
                "lake": base.lake.model_copy(
                    update={"root": str(folder / "lake"), "checkpoint_root": str(folder / "chk")}
                ),
            }
        )
        started = time.perf_counter()
        run(settings, available_now=True)
        elapsed = time.perf_counter() - started
        analysed = read_table(settings, "silver.segment_context").num_rows
        label = f"Spark frame_analysis, {writer} writer, {attempt}"
        rates[(writer, attempt)] = report(label, analysed, elapsed)
        assert analysed == frames
    warm = rates[("delta-rs", "warm workers")]
    print(
        f"  ratio Spark (warm) / plain loop: {warm / plain:.2f}; cold: "
        f"{rates[('delta-rs', 'cold workers')] / plain:.2f}; delta-spark / delta-rs writer (warm): "
        f"{rates[('spark', 'warm workers')] / warm:.2f}"
    )


def report(label: str, frames: int, elapsed: float) -> float:
    """Prints and returns the real-time factor: seconds of video analysed per wall second."""
    realtime = SECONDS / elapsed
    print(
        f"  {label:62} {frames:>5} frames {elapsed:7.1f}s {frames / elapsed:6.2f} frames/s  "
        f"real-time factor {realtime:5.2f}"
    )
    return realtime
