"""`brandlake demo` end to end on a short broadcast: every job runs, the summary is printed, and
what the lake says matches the sample's truth and the simulated traffic."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from jobs.sample_media import truth_screen_seconds
from tests.support import DEMO_STREAM as STREAM
from tests.support import DEMO_VIDEO_SECONDS as VIDEO_SECONDS
from tests.support import read_table

pytestmark = [pytest.mark.spark, pytest.mark.services, pytest.mark.timeout(3600)]


def test_the_demo_prints_the_summary_and_stops_its_queries(demo_lake, spark):
    settings, out, _ = demo_lake
    assert f"Brand exposure and revenue on {STREAM} ({VIDEO_SECONDS} s of video)" in out
    for brand in settings.catalog.brands:
        assert f"\n{brand.brand_id:12} " in out
    assert "gold.revenue_minute" in out and "duckdb.sql" in out
    assert "named: times in captions or said" in out
    assert not spark.streams.active


def test_every_job_filled_its_tables(demo_lake):
    settings, _, _ = demo_lake
    for table in ("bronze.segments", "bronze.impressions", "silver.segment_context",
                  "silver.frame_brands", "gold.impression_context"):  # fmt: skip
        assert read_table(settings, table).num_rows > 0, table
    exposure = read_table(settings, "gold.brand_exposure_minute")
    assert set(exposure.column("stream_id").to_pylist()) == {STREAM}


def test_screen_seconds_are_close_to_the_samples_truth(demo_lake):
    """Against what a perfect detector would measure at the job's 2 frames/s: every brand on
    screen is found, and all brands' screen time together is within 10 %. Per-brand accuracy
    is `test_sample_broadcast`'s (5 frames/s, 60 s). Measured with the quick champion (10 s of
    seed 7): aquapure 6.0 of 6.0 s, fizzco 3.5 of 3.0, lumen 3.0 of 2.5, pinecrest 3.5 of 3.5,
    velocity 0.5 of 2.0 (a board 55-73 % visible, missed in three of four frames: issue 15);
    16.5 of 17.0 s in all."""
    settings, _, truth_rows = demo_lake
    truth = truth_screen_seconds(
        truth_rows,
        settings.exposure.min_visible_share,
        settings.sample_media.fps,
        sample_fps=settings.jobs.frame_analysis.sample_fps,
    )
    measured: dict[str, float] = {}
    for row in read_table(settings, "gold.brand_exposure_minute").to_pylist():
        measured[row["brand_id"]] = measured.get(row["brand_id"], 0.0) + row["screen_seconds"]
    print("\ndemo screen seconds per brand (truth at 2 fps / measured):")
    for brand in sorted(truth):
        print(f"  {brand:10} {truth[brand]:5.1f} {measured.get(brand, 0.0):5.1f}")
    assert truth and set(measured) == set(truth)
    assert sum(measured.values()) == pytest.approx(sum(truth.values()), rel=0.10)


def test_revenue_rows_exist_for_the_campaigns_served(demo_lake):
    settings, _, _ = demo_lake
    served = read_table(settings, "bronze.impressions").filter(pc.field("stream_id") == STREAM)
    campaigns = set(served.column("campaign_id").to_pylist())
    revenue = read_table(settings, "gold.revenue_minute").filter(pc.field("stream_id") == STREAM)
    assert campaigns and set(revenue.column("campaign_id").to_pylist()) >= campaigns
    expected = pc.sum(served.column("clearing_cpm")).as_py() / 1000
    # every impression counts once: as revenue, or as invalid traffic (the simulator's bots)
    billed = pc.sum(revenue.column("revenue")).as_py()
    invalid = pc.sum(revenue.column("invalid_revenue")).as_py()
    assert billed + invalid == pytest.approx(expected, rel=1e-9)
    assert 0 < invalid < 0.3 * expected
