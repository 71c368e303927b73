"""The sample broadcast through the pipeline, checked against its ground truth: the trained
brand detector through frame_analysis (precision, recall), then exposure_revenue (screen
seconds and share of voice per brand); brands named in its captions (on-screen text) and by its
commentator (speech).

The champion is the detector shipped in models/brand-detector/. The sample broadcast is rendered
with its own seed, at the default sampling rate; the training set never holds sample frames.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pyarrow.parquet as pq
import pytest

from jobs.common.kafka import ensure_topics
from jobs.entrypoint import command_settings
from jobs.exposure.mentions import Mention, mention_runs
from jobs.exposure_revenue import run as run_exposure_revenue
from jobs.frame_analysis import run as run_frame_analysis
from jobs.ingest.run import ingest
from jobs.sample_media import generate, truth_screen_seconds
from jobs.train.evaluate import score_frames
from tests.support import read_table
from tests.udfs.speech.test_segment import needs_voice
from udfs.detection.backends import choose
from udfs.devices import torch_device

pytestmark = [pytest.mark.spark, pytest.mark.timeout(3600)]
GOAL = 0.97


def normalised(row: dict, width: int, height: int) -> tuple[float, float, float, float]:
    return (row["x1"] / width, row["y1"] / height, row["x2"] / width, row["y2"] / height)


@pytest.fixture(scope="module")
def analysed(brand_champion, stack, spark, tmp_path_factory):
    """A 60 s broadcast with its own seed, ingested, analysed at the default 2 frames/s (plus
    the boundary frames), made into gold tables."""
    tmp_path = tmp_path_factory.mktemp("sample_broadcast")
    suffix = uuid.uuid4().hex[:8]
    settings = command_settings(
        {
            "lake.root": str(tmp_path / "lake"),
            "lake.checkpoint_root": str(tmp_path / "checkpoints"),
            "sample_media.seconds": 60,
            "sample_media.seed": 2026,
            "sample_media.captions": 1.0,  # a lower third in every scene: more to score
            **{f"kafka.topics.{k}.name": f"{k}-{suffix}" for k in stack.kafka.topics},
        }
    )
    ensure_topics(settings)
    video = generate(settings, tmp_path / "media", name="unseen")
    ingest(settings, "unseen", ["-i", str(video)], transcode=True)
    run_frame_analysis(settings, available_now=True)
    run_exposure_revenue(settings, available_now=True)
    truth = pq.read_table(tmp_path / "media" / "unseen.truth.parquet").to_pylist()
    made = json.loads((tmp_path / "media" / "unseen.json").read_text())
    return settings, truth, made["mentions"]


def test_brands_in_an_unseen_broadcast_are_found(analysed, brand_champion):
    settings, truth_rows, _ = analysed
    conf = settings.sample_media
    seconds_per_segment = settings.ingest.segment_seconds
    # Precision and recall at the sampled frames; the boundary frames serve screen time.
    frames = [f for f in read_table(settings, "silver.segment_context").to_pylist()
              if not f["refined"]]  # fmt: skip
    rows = read_table(settings, "silver.detections").to_pylist()
    index_of = {
        (f["segment_id"], f["frame_index"]): round(
            (f["sequence"] * seconds_per_segment + f["pts_s"]) * conf.fps
        )
        for f in frames
    }
    # the champion's version, and the backend that ran it unless torch
    ran_on = choose(settings.models.backend, torch_device())
    version = brand_champion.label + ("" if ran_on == "torch" else f" {ran_on}")
    detections = {index: [] for index in index_of.values()}
    for row in rows:
        if row["kind"] == "brand" and (row["segment_id"], row["frame_index"]) in index_of:
            assert row["model_version"] == version
            box = (row["x1"], row["y1"], row["x2"], row["y2"])
            index = index_of[(row["segment_id"], row["frame_index"])]
            detections[index].append((row["label"], row["confidence"], box))
    truth: dict[int, list] = {}
    for row in truth_rows:
        box = normalised(row, conf.width, conf.height)
        truth.setdefault(row["frame"], []).append((row["brand_id"], row["visible"], box))

    score = score_frames(detections, truth, settings.exposure.min_visible_share)
    print(
        f"\nbrand detection on an unseen {conf.seconds:.0f} s broadcast, {score.frames} frames "
        f"at {settings.jobs.frame_analysis.sample_fps} fps, {brand_champion.label}: precision "
        f"{score.precision:.3f}, recall {score.recall:.3f} (TP {score.true_positives}, "
        f"FP {score.false_positives}, FN {score.false_negatives})"
    )
    assert score.frames == 120
    assert score.true_positives >= 20  # the sample shows logos most of the time
    assert score.precision >= GOAL and score.recall >= GOAL


def test_screen_seconds_and_share_of_voice_match_the_truth(analysed):
    """Truth: a brand is on screen in a frame when at least `exposure.min_visible_share` of its
    logo is visible (in frame, and not under its occluder or a logo drawn over it: the line the
    training labels use); its screen seconds are those frames / fps. Goal: every brand within
    5 % and share of voice within 2 points, at the default 2 frames/s: appearances start and
    end at the frame found between samples; a change across two segments is placed to the
    sampling step (the segments are analysed apart), so a brand may also be one step off.

    Measured with the shipped detector (640 px, confidence 0.72): aquapure -1.7 %, fizzco
    +2.4 %, lumen -5.7 %, pinecrest -3.2 %, velocity -14.2 % (0.7 s of its 4.9 s); share of
    voice within 1.2 points. Lumen and velocity are short of the 5 % goal (issue 15).
    """
    settings, truth_rows, _ = analysed
    truth = truth_screen_seconds(
        truth_rows, settings.exposure.min_visible_share, settings.sample_media.fps
    )
    measured: dict[str, float] = {}
    for row in read_table(settings, "gold.brand_exposure_minute").to_pylist():
        measured[row["brand_id"]] = measured.get(row["brand_id"], 0.0) + row["screen_seconds"]
    truth_total, measured_total = sum(truth.values()), sum(measured.values())
    print("\nscreen seconds per brand (truth / measured / error; share of voice truth / measured)")
    for brand in sorted(truth):
        got = measured.get(brand, 0.0)
        error = (got - truth[brand]) / truth[brand]
        print(
            f"  {brand:10} {truth[brand]:6.2f} {got:6.2f} {error:+6.1%}"
            f"   {truth[brand] / truth_total:6.1%} {got / measured_total:6.1%}"
        )
    assert set(measured) == set(truth)
    step_s = 1 / settings.jobs.frame_analysis.sample_fps
    for brand, seconds in truth.items():
        assert abs(measured[brand] - seconds) <= 0.05 * seconds + step_s, brand
        share, measured_share = seconds / truth_total, measured[brand] / measured_total
        assert abs(measured_share - share) <= 0.02, brand


def test_brands_named_in_captions_are_found_and_logos_are_not_read_as_mentions(analysed):
    """Each brand named in a lower third (2.5-5 s on screen, read once a second) is found, no
    text mention is made where no caption names the brand (a logo's own printed name is the
    logo's), the first reading is within a second of the caption's start, and the seconds the
    mentions stand for are the caption's to a second. Goal: precision and recall >= 0.9 per
    brand."""
    settings, _, truth = analysed
    captions = [m for m in truth if m["kind"] == "text"]
    seconds_per_segment = settings.ingest.segment_seconds
    pts = {
        (f["segment_id"], f["frame_index"]): f["sequence"] * seconds_per_segment + f["pts_s"]
        for f in read_table(settings, "silver.segment_context").to_pylist()
    }
    mentions = [
        (row["brand_id"], pts[(row["segment_id"], row["frame_index"])], row["duration_s"])
        for row in read_table(settings, "silver.brand_mentions").to_pylist()
        if row["kind"] == "text"
    ]
    assert read_table(settings, "silver.text_lines").num_rows >= len(mentions) > 0
    slack = 0.12  # a sample falls on a reference frame up to three frames after its time

    def caption_of(brand: str, time_s: float) -> int | None:
        return next((i for i, c in enumerate(captions) if c["brand_id"] == brand
                     and c["start_s"] <= time_s < c["end_s"] + slack), None)  # fmt: skip

    print("\ntext mentions per brand: captions found / named, mentions right / made, seconds")
    for brand in sorted({c["brand_id"] for c in captions}):
        named = [i for i, c in enumerate(captions) if c["brand_id"] == brand]
        made = [(time_s, seconds) for b, time_s, seconds in mentions if b == brand]
        right = [(caption_of(brand, t), t, seconds) for t, seconds in made]
        right = [r for r in right if r[0] is not None]
        found = {i for i, *_ in right}
        true_s = sum(captions[i]["end_s"] - captions[i]["start_s"] for i in named)
        measured_s = sum(seconds for *_, seconds in right)
        print(f"  {brand:10} {len(found)}/{len(named)}  {len(right)}/{len(made)}"
              f"  {measured_s:.1f} s of {true_s:.1f} s")  # fmt: skip
        assert len(found) >= 0.9 * len(named) and len(right) >= 0.9 * len(made), brand
        for i in found:
            first = min(t for j, t, _ in right if j == i)
            assert first - captions[i]["start_s"] <= 1.0 + slack, (brand, captions[i])
        assert abs(measured_s - true_s) <= len(named), brand


@needs_voice
def test_brands_said_by_the_commentator_are_heard_on_time(analysed):
    """The brands the synthetic commentator names are heard (a name heard twice, from two
    overlapping segments, counts once, as gold counts it), each within a second of when it
    was said.

    The goal is precision and recall >= 0.9 per brand, measured where a brand is said often
    enough to tell: `make bench` (tests/perf/bench_spoken_mentions.py, 20 held-out
    broadcasts). Here a brand is said once or twice, and which words tiny.en writes depends on
    the CPU it runs on (CTranslate2 multiplies with Intel MKL on Intel CPUs, with oneDNN on
    others): one word more or less decides a brand. So this broadcast asserts over all brands,
    at most one name missed and one heard wrongly."""
    settings, _, truth = analysed
    said = [m for m in truth if m["kind"] == "speech"]
    step = settings.ingest.segment_seconds
    start = min(f["frame_time"] - timedelta(seconds=f["sequence"] * step + f["pts_s"])
                for f in read_table(settings, "silver.segment_context").to_pylist())  # fmt: skip
    rows = [r for r in read_table(settings, "silver.brand_mentions").to_pylist()
            if r["kind"] == "speech"]  # fmt: skip
    heard = [
        run[0]
        for run in mention_runs(
            [Mention(r["stream_id"], r["brand_id"], "speech", r["mention_time"], r["duration_s"])
             for r in rows],
            settings.exposure.gap_tolerance_s,
        )
    ]  # fmt: skip
    assert said and heard
    print("\nspoken mentions per brand: said and heard / said, heard and said / heard, timing")
    said_and_heard = heard_and_said = 0
    for brand in sorted({m["brand_id"] for m in said} | {m.brand_id for m in heard}):
        truth_of = [m for m in said if m["brand_id"] == brand]
        mine = [(m.time - start).total_seconds() for m in heard if m.brand_id == brand]
        matched = {
            i: at for at in mine for i, m in enumerate(truth_of)
            if abs(at - m["start_s"]) <= 1.0
        }  # fmt: skip
        right = [at for at in mine if any(abs(at - m["start_s"]) <= 1.0 for m in truth_of)]
        off = [abs(at - truth_of[i]["start_s"]) for i, at in matched.items()]
        print(f"  {brand:10} {len(matched)}/{len(truth_of)}  {len(right)}/{len(mine)}"
              f"  max {max(off, default=0):.2f} s off")  # fmt: skip
        said_and_heard += len(matched)
        heard_and_said += len(right)
    assert said_and_heard >= len(said) - 1 and heard_and_said >= len(heard) - 1
