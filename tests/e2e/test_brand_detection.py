"""The trained brand detector through the streaming job, on a sample broadcast it never saw.

The session trains the `quick` profile (what `make demo` trains; about ten minutes on 2 CPU
cores) unless the registry already has a champion: set BRANDLAKE_MODELS__TRACKING_URI to a
registry with one to skip training while iterating. The sample broadcast is rendered with its
own seed; the training set is made of photographs and logos only, never of sample frames.
"""

from __future__ import annotations

import uuid

import pyarrow.parquet as pq
import pytest

from jobs.common.config import load_settings
from jobs.common.kafka import ensure_topics
from jobs.common.registry import NoChampionError, champion
from jobs.frame_analysis import run
from jobs.ingest.run import ingest
from jobs.sample_media import generate
from jobs.train.brand_detector import train_brand_detector
from jobs.train.evaluate import score_frames
from tests.support import read_table

pytestmark = pytest.mark.spark
GOAL = 0.9


@pytest.fixture(scope="session")
def brand_champion(stack):
    settings = load_settings()
    try:
        return champion(settings, settings.models.brand_detector.name)
    except NoChampionError:
        train_brand_detector(settings, "quick", device=None)
        return champion(settings, settings.models.brand_detector.name)


def normalised(row: dict, width: int, height: int) -> tuple[float, float, float, float]:
    return (row["x1"] / width, row["y1"] / height, row["x2"] / width, row["y2"] / height)


def test_brands_in_an_unseen_broadcast_are_found(brand_champion, stack, spark, tmp_path):
    suffix = uuid.uuid4().hex[:8]
    settings = load_settings(
        {
            "lake.root": str(tmp_path / "lake"),
            "lake.checkpoint_root": str(tmp_path / "checkpoints"),
            "sample_media.seconds": 20,
            "sample_media.seed": 2026,
            **{f"kafka.topics.{k}.name": f"{k}-{suffix}" for k in stack.kafka.topics},
        }
    )
    ensure_topics(settings)
    video = generate(settings, tmp_path / "media", name="unseen")
    ingest(settings, "unseen", ["-i", str(video)], transcode=True)
    run(settings, available_now=True)

    conf = settings.sample_media
    seconds_per_segment = settings.ingest.segment_seconds
    frames = read_table(settings, "silver.segment_context").to_pylist()
    rows = read_table(settings, "silver.detections").to_pylist()
    index_of = {
        (f["segment_id"], f["frame_index"]): round(
            (f["sequence"] * seconds_per_segment + f["pts_s"]) * conf.fps
        )
        for f in frames
    }
    detections = {index: [] for index in index_of.values()}
    for row in rows:
        if row["kind"] == "brand":
            assert row["model_version"] == brand_champion.label
            box = (row["x1"], row["y1"], row["x2"], row["y2"])
            index = index_of[(row["segment_id"], row["frame_index"])]
            detections[index].append((row["label"], row["confidence"], box))
    truth: dict[int, list] = {}
    for row in pq.read_table(tmp_path / "media" / "unseen.truth.parquet").to_pylist():
        box = normalised(row, conf.width, conf.height)
        truth.setdefault(row["frame"], []).append((row["brand_id"], row["visible"], box))

    score = score_frames(detections, truth)
    print(
        f"\nbrand detection on an unseen {conf.seconds:.0f} s broadcast, {score.frames} frames "
        f"at {settings.jobs.frame_analysis.sample_fps} fps, {brand_champion.label}: precision "
        f"{score.precision:.3f}, recall {score.recall:.3f} (TP {score.true_positives}, "
        f"FP {score.false_positives}, FN {score.false_negatives})"
    )
    assert score.frames == 40
    assert score.true_positives >= 20  # the sample shows logos most of the time
    assert score.precision >= GOAL and score.recall >= GOAL
