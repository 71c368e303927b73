"""The brand detector on scenes it never saw: broadcasts rendered only from the held-out scene
families (`train.families.held_out`) and made-up logos it never trained on, run through the
real analysis code (`analyse_segment`, boundary refinement included) and scored against their
exact truth; and brand-free footage (the shared pedestrian video, stadium- and studio-like
scenes without logos) for false detections.

    brandlake evaluate brand-detector [--weights FILE] [--image-size 640] [--confidence 0.45]
        [--families arena newsroom street] [--seeds 101 102] [--seconds 60] [--out report.json]

Per family and over all: brand-frame precision and recall at the sampled frames (a frame shows
a brand when at least `exposure.min_visible_share` of one of its logos is visible; a brand
showing less is neither right nor wrong), each brand's screen seconds against the truth
(brands with 3 s or more), share of voice, and the boundary frames analysed per minute.
Thresholds and image sizes are chosen on these figures, never on the broadcast a test scores.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from jobs.common.config import Settings, add_set_option, parse_overrides
from jobs.entrypoint import command_settings
from jobs.exposure.metrics import BrandSeen, Frame, brand_exposure_minutes
from jobs.sample_media import generate, truth_screen_seconds
from jobs.sample_media.broadcast import BROADCAST_VERSION
from jobs.train.evaluate import Score

log = logging.getLogger("brandlake.evaluate")
EVAL_SEEDS = (101, 102)  # never a seed the tests render
BRAND_FREE = ("stadium", "studio", "arena", "newsroom")
MIN_TRUTH_SECONDS = 3.0


@dataclass
class BroadcastScore:
    name: str
    seconds: float
    sampled_frames: int = 0
    refined_frames: int = 0
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    false_brand_frames: int = 0  # sampled frames showing a brand that is not there
    truth_seconds: dict[str, float] = field(default_factory=dict)
    measured_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def counts(self) -> Score:
        return Score(self.true_positives, self.false_positives, self.false_negatives,
                     self.sampled_frames)  # fmt: skip

    @property
    def precision(self) -> float:
        return self.counts.precision

    @property
    def recall(self) -> float:
        return self.counts.recall

    def seconds_errors(self) -> dict[str, float]:
        """Relative screen-seconds error per brand with at least 3 s of truth."""
        return {
            brand: (self.measured_seconds.get(brand, 0.0) - truth) / truth
            for brand, truth in sorted(self.truth_seconds.items())
            if truth >= MIN_TRUTH_SECONDS
        }

    def share_of_voice_error(self) -> float:
        """The largest difference in share of voice, in points."""
        truth_total = sum(self.truth_seconds.values()) or 1.0
        measured_total = sum(self.measured_seconds.values()) or 1.0
        brands = set(self.truth_seconds) | set(self.measured_seconds)
        return 100 * max(
            (
                abs(
                    self.measured_seconds.get(b, 0.0) / measured_total
                    - self.truth_seconds.get(b, 0.0) / truth_total
                )
                for b in brands
            ),
            default=0.0,
        )

    def add(self, other: BroadcastScore) -> None:
        for name in ("seconds", "sampled_frames", "refined_frames", "true_positives",
                     "false_positives", "false_negatives", "false_brand_frames"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in ((self.truth_seconds, other.truth_seconds),
                             (self.measured_seconds, other.measured_seconds)):  # fmt: skip
            for brand, value in theirs.items():
                mine[brand] = mine.get(brand, 0.0) + value

    def summary(self) -> dict:
        minutes = self.seconds / 60
        return {
            "name": self.name,
            "seconds": self.seconds,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "screen_seconds_error": {b: round(e, 4) for b, e in self.seconds_errors().items()},
            "share_of_voice_error_points": round(self.share_of_voice_error(), 2),
            "false_brand_frames_per_minute": round(self.false_brand_frames / minutes, 2),
            "refined_frames_per_minute": round(self.refined_frames / minutes, 1),
            "counts": {k: v for k, v in asdict(self).items() if isinstance(v, int)},
            "truth_seconds": {b: round(v, 3) for b, v in sorted(self.truth_seconds.items())},
            "measured_seconds": {b: round(v, 3) for b, v in sorted(self.measured_seconds.items())},
        }


def render(settings: Settings, family: str, seed: int, seconds: float, folder: Path, logos=True):
    """A broadcast of one scene family (cached by everything that makes it), re-encoded and cut
    into segments as file ingest does; returns the segments and the truth rows."""
    name = f"{family}-{seed}-{seconds:g}s-b{BROADCAST_VERSION}{'' if logos else '-nologos'}"
    out = folder / name
    segments = sorted(out.glob("seg_*.ts"))
    if not segments:
        conf = settings.sample_media.model_copy(
            update={
                "families": [family],
                "distractors": 2,
                "captions": 0.0,  # logos only: the thresholds were chosen on these
                "crf": 28,
                "seed": seed,
                "seconds": seconds,
                "width": 1280,
                "height": 720,
                "fps": 30,
            }
        )
        video = generate(settings.model_copy(update={"sample_media": conf}), out, name, logos)
        _segment(settings, ["-i", str(video)], out)
        segments = sorted(out.glob("seg_*.ts"))
    truth = pq.read_table(out / f"{name}.truth.parquet").to_pylist()
    return segments, truth


def _segment(settings: Settings, source: list[str], out: Path) -> None:
    """Re-encode and cut `source` into segments as file ingest does."""
    import subprocess

    from jobs.ingest.ffmpeg import hls_command

    command = hls_command(source, out, settings.ingest, transcode=True)
    subprocess.run(command, check=True, capture_output=True)


def score_broadcast(
    name: str, segments: list[Path], truth_rows: list[dict], analyzers, settings: Settings,
    fps: int = 30, width: int = 1280, height: int = 720,
) -> BroadcastScore:  # fmt: skip
    """Analyse every segment as frame_analysis does and score it against the truth."""
    from udfs.analysis.segment import analyse_segment

    line = settings.exposure.min_visible_share
    segment_s = settings.ingest.segment_seconds
    conf = settings.jobs.frame_analysis
    shown: dict[int, set[str]] = {}
    faint: dict[int, set[str]] = {}  # brands partly visible, under the line: don't care
    for row in truth_rows:
        (shown if row["visible"] >= line else faint).setdefault(row["frame"], set()).add(
            row["brand_id"]
        )
    score = BroadcastScore(name, seconds=len(segments) * segment_s)
    frames: list[Frame] = []
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for sequence, segment in enumerate(segments):
        detections, context = analyse_segment(
            segment.as_uri(), analyzers, conf.sample_fps, conf.batch_size,
            refine_boundaries=conf.refine_boundaries,
            reference_only=conf.reference_frames_only,
        )  # fmt: skip
        found: dict[int, list] = {}
        for row in detections:
            if row.kind == "brand":
                found.setdefault(row.frame_index, []).append(row)
        for frame in context:
            at = sequence * segment_s + frame.pts_s
            index = round(at * fps)
            rows = found.get(frame.frame_index, [])
            brands = {r.label for r in rows}
            seen = tuple(BrandSeen(r.label, r.confidence, (r.x1, r.y1, r.x2, r.y2), r.area_share)
                         for r in rows)  # fmt: skip
            frames.append(Frame(name, start + timedelta(seconds=at), frame.interval_s, seen))
            if frame.refined:
                score.refined_frames += 1
                continue
            score.sampled_frames += 1
            wanted, ignored = shown.get(index, set()), faint.get(index, set())
            score.true_positives += len(brands & wanted)
            score.false_negatives += len(wanted - brands)
            wrong = brands - wanted - ignored
            score.false_positives += len(wrong)
            score.false_brand_frames += bool(wrong)
    score.truth_seconds = truth_screen_seconds(truth_rows, line, fps)
    for row in brand_exposure_minutes(frames, settings.exposure.gap_tolerance_s,
                                      settings.exposure.quality, rate=0.0):  # fmt: skip
        brand = row["brand_id"]
        score.measured_seconds[brand] = (
            score.measured_seconds.get(brand, 0.0) + row["screen_seconds"]
        )
    return score


def brand_analyzers(settings: Settings, weights: Path, image_size: int, confidence: float):
    from jobs.frame_analysis import brand_colour_check
    from udfs.analysis.segment import Analyzers
    from udfs.detection.brand import BrandDetector
    from udfs.devices import torch_device

    # the backend frame_analysis runs it on: the score is the one production gets
    detector = BrandDetector(
        str(weights), "candidate", torch_device(), confidence, image_size,
        brand_colour_check(settings), settings.models.backend,
    )  # fmt: skip
    return Analyzers(people=None, brands=detector)


def evaluate(
    settings: Settings,
    weights: Path,
    families: list[str],
    seeds: list[int],
    seconds: float,
    image_size: int,
    confidence: float,
    brand_free: bool = True,
) -> dict:
    """The generalisation report (see the module docstring) as a dict."""
    folder = Path(settings.train.work_dir) / "generalisation"
    analyzers = brand_analyzers(settings, weights, image_size, confidence)
    started = time.monotonic()
    per_family: dict[str, BroadcastScore] = {}
    for family in families:
        total = per_family.setdefault(family, BroadcastScore(family, 0.0))
        for seed in seeds:
            segments, truth = render(settings, family, seed, seconds, folder)
            score = score_broadcast(f"{family}-{seed}", segments, truth, analyzers, settings)
            log.info("%s: precision %.3f recall %.3f", score.name, score.precision, score.recall)
            total.add(score)
    overall = BroadcastScore("held-out families", 0.0)
    for score in per_family.values():
        overall.add(score)
    free: dict[str, BroadcastScore] = {}
    if brand_free:
        for family in BRAND_FREE:
            segments, truth = render(settings, family, seeds[0], seconds, folder, logos=False)
            free[family] = score_broadcast(family, segments, truth, analyzers, settings)
        footage = _shared_footage(settings, folder)
        if footage:
            free["vtest.avi"] = score_broadcast("vtest.avi", footage, [], analyzers, settings)
    return {
        "weights": str(weights),
        "image_size": image_size,
        "confidence": confidence,
        "colour_check": settings.models.brand_detector.colour_check.model_dump(),
        "sample_fps": settings.jobs.frame_analysis.sample_fps,
        "seeds": seeds,
        "broadcast_version": BROADCAST_VERSION,
        "overall": overall.summary(),
        "families": {name: s.summary() for name, s in per_family.items()},
        "brand_free": {name: s.summary() for name, s in free.items()},
        "seconds": round(time.monotonic() - started, 1),
    }


def _shared_footage(settings: Settings, folder: Path) -> list[Path]:
    """The shared pedestrian video in segments, when the shared media folder beside the
    repository (or $BRANDLAKE_TEST_MEDIA) has it."""
    media = os.environ.get("BRANDLAKE_TEST_MEDIA") or Path(__file__).parents[3] / "shared/media"
    source = Path(media) / "vtest.avi"
    if not source.is_file():
        log.info("no %s: the real-footage brand-free check is left out", source)
        return []
    out = folder / "vtest"
    if not sorted(out.glob("seg_*.ts")):
        out.mkdir(parents=True, exist_ok=True)
        _segment(settings, ["-i", str(source)], out)
    return sorted(out.glob("seg_*.ts"))


def print_report(report: dict) -> None:
    def line(s: dict) -> str:
        errors = " ".join(f"{b} {e:+.1%}" for b, e in s["screen_seconds_error"].items())
        return (
            f"  {s['name']:18} P {s['precision']:.3f} R {s['recall']:.3f}  SoV ±"
            f"{s['share_of_voice_error_points']:.1f} pt  false frames/min "
            f"{s['false_brand_frames_per_minute']:.1f}  boundary frames/min "
            f"{s['refined_frames_per_minute']:.0f}  {errors}"
        )

    print(
        f"brand detector {report['weights']} at {report['image_size']} px, confidence "
        f"{report['confidence']}, colour check {report['colour_check']}, "
        f"{report['sample_fps']} frames/s (seeds {report['seeds']}):"
    )
    for summary in report["families"].values():
        print(line(summary))
    print(line(report["overall"]))
    if report["brand_free"]:
        print("brand-free footage (false brand frames per minute):")
        for summary in report["brand_free"].values():
            print(f"  {summary['name']:18} {summary['false_brand_frames_per_minute']:.1f}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="brandlake evaluate brand-detector", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--weights", type=Path, help="default: the registry's champion")
    parser.add_argument("--image-size", type=int, help="default: models.brand_detector")
    parser.add_argument("--confidence", type=float, help="default: models.brand_detector")
    parser.add_argument("--families", nargs="+", help="default: train.families.held_out")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(EVAL_SEEDS))
    parser.add_argument("--seconds", type=float, default=60.0, help="per broadcast")
    parser.add_argument("--no-brand-free", action="store_true", help="skip brand-free footage")
    parser.add_argument("--out", type=Path, help="write the report as JSON")
    add_set_option(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    settings = command_settings(parse_overrides(args.set))
    conf = settings.models.brand_detector
    weights = args.weights
    if weights is None:
        from jobs.common.registry import champion

        weights = champion(settings, conf.name).weights
    report = evaluate(
        settings,
        weights,
        args.families or settings.train.families.held_out,
        args.seeds,
        args.seconds,
        args.image_size or conf.image_size,
        args.confidence if args.confidence is not None else conf.confidence,
        brand_free=not args.no_brand_free,
    )
    print_report(report)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return report
