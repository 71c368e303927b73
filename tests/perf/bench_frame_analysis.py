"""Frames analysed per second: frame_analysis on Spark vs. the same models in a plain loop,
per detector backend.

    make bench                       (BENCH_VIDEO_SECONDS=10 make bench for a quicker run)

A 1080p30 sample broadcast is ingested into 2 s segments; both paths analyse the same segments
at the configured sampling rate (2 fps) with every analyzer: brand detector, person detector,
scene embedder, safety model, boundary frames and the colour check, on-screen text once a second
and the speech step on each segment's audio. The plain loop runs in this
process with torch's default threads, one row per way of running it: as before this work (torch,
every frame decoded, frames at full size), torch with frames scaled to the detectors' input,
then also decoding reference frames only, then each exported backend installed (ONNX Runtime,
OpenVINO); `auto` is the default (`models.backend`). Spark runs the streaming job with the
defaults until caught up, twice: cold (Python workers start, export and load the models) and
warm; each is reported start to end and by its micro-batches alone (what a running stream
spends; the Spark goal is >= 0.9x the loop there). Real-time factor: seconds of video analysed
per wall second (frames/s counts the boundary frames too, which cost less: brands only). The
brand detector is the registry's champion (the shipped one), else a one-epoch model trained
here (same architecture and input size, so the same cost per frame).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

from jobs.common.registry import NoChampionError, champion
from jobs.frame_analysis import analyzers_for, resolve_models, start
from jobs.ingest.run import ingest
from jobs.sample_media import generate
from jobs.train.brand_detector import train_brand_detector
from tests.support import read_table
from udfs.analysis.segment import analyse_segment
from udfs.detection.backends import choose, installed
from udfs.speech.segment import segment_speech
from udfs.text.mentions import brand_names

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
    exported = [b for b in ("onnxruntime", "openvino") if installed(b, "cpu")]
    # (label, backend, reference frames only, frames scaled to the detectors' input)
    variants = [("torch, every frame, full size (before)", "torch", False, False),
                ("torch, every frame decoded", "torch", False, True),
                ("torch, reference frames only", "torch", True, True),
                *[(f"{b}, reference frames only", b, True, True) for b in exported]]  # fmt: skip
    names = brand_names(base.catalog.brands)
    plain_rates, model_seconds = {}, {}
    for name, backend, reference_only, scaled in variants:
        analyzers = analyzers_for(replace(models, backend=backend))
        analyzers.warm_up()
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        frames = 0
        for position, segment in enumerate(segments):
            frames += len(
                analyse_segment(segment.as_uri(), analyzers, conf.sample_fps, conf.batch_size,
                                refine_boundaries=conf.refine_boundaries,
                                reference_only=reference_only, max_side=None if scaled else 0,
                                model_seconds=seconds)[1]
            )  # fmt: skip
            if analyzers.speech is not None:  # the job's speech step, as it runs it
                previous = str(segments[position - 1]) if position else None
                listened = time.perf_counter()
                segment_speech(str(segment), analyzers.speech, names, previous,
                               models.speech.overlap_s)  # fmt: skip
                seconds["speech"] = seconds.get("speech", 0.0) + time.perf_counter() - listened
        elapsed = time.perf_counter() - started
        model_seconds[backend, reference_only, scaled] = seconds
        plain_rates[backend, reference_only, scaled] = report(
            f"plain loop, {name}", frames, elapsed
        )
    default = (choose(base.models.backend, "cpu"), conf.reference_frames_only, True)
    plain = plain_rates[default]
    before = plain_rates["torch", False, False]
    spent = model_seconds[default]
    per_second = ", ".join(
        f"{model} {total / SECONDS:.3f}" for model, total in sorted(spent.items())
    )
    print(f"  model seconds per second of video, plain loop, defaults: {per_second}")
    if "speech" in spent:
        print(
            f"  speech: {spent['speech'] / SECONDS:.2f} s per second of audio (2 s segments, "
            f"{models.speech.overlap_s:g} s of the one before heard again), alongside the video"
        )
    print(
        f"  ratio of real-time factors, plain loop (torch): scaled frames / full size "
        f"{plain_rates['torch', False, True] / before:.2f}; reference frames only / every frame "
        f"{plain_rates['torch', True, True] / plain_rates['torch', False, True]:.2f}; "
        f"default ({default[0]}, reference frames, scaled) / before {plain / before:.2f}"
    )

    rates = {}
    for attempt in ("cold workers", "warm workers"):
        folder = tmp_path / attempt.split()[0]
        settings = base.model_copy(
            update={"lake": base.lake.model_copy(
                update={"root": str(folder / "lake"), "checkpoint_root": str(folder / "chk")}
            )}
        )  # fmt: skip
        started = time.perf_counter()
        query = start(settings, spark, available_now=True)
        query.awaitTermination()
        elapsed = time.perf_counter() - started
        # the micro-batches' own time: what a long-running stream spends per segment, without
        # the query's start (the models' warm-up job, the first offsets) and stop
        busy = sum(p["durationMs"]["triggerExecution"] for p in query.recentProgress
                   if p["numInputRows"]) / 1000  # fmt: skip
        analysed = read_table(settings, "silver.segment_context").num_rows
        label = f"Spark frame_analysis, defaults, {attempt}"
        rates[attempt] = report(f"{label}, start to end", analysed, elapsed)
        rates[attempt, "batches"] = report(f"{label}, batches only", analysed, busy)
    print(
        f"  ratio Spark / plain loop (defaults): batches (a running stream) "
        f"{rates['warm workers', 'batches'] / plain:.2f}; start to end, warm "
        f"{rates['warm workers'] / plain:.2f}, cold {rates['cold workers'] / plain:.2f}"
    )


def report(label: str, frames: int, elapsed: float) -> float:
    """Prints and returns the real-time factor: seconds of video analysed per wall second."""
    realtime = SECONDS / elapsed
    print(
        f"  {label:62} {frames:>5} frames {elapsed:7.1f}s {frames / elapsed:6.2f} frames/s  "
        f"real-time factor {realtime:5.2f}"
    )
    return realtime
