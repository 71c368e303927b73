"""`brandlake demo` end to end on a short broadcast: every job runs, the summary is printed."""

from __future__ import annotations

import pytest

from jobs.demo import run_demo
from tests.support import read_table

# The first test to ask for the champion trains it (about 25 minutes on 2 cores).
pytestmark = [pytest.mark.spark, pytest.mark.services, pytest.mark.timeout(3600)]


def test_demo_runs_every_job_and_prints_the_brand_summary(
    brand_champion, isolated_settings, spark, capsys
):
    settings = isolated_settings()
    run_demo(settings, video_seconds=6, rate_per_s=200)
    out = capsys.readouterr().out
    assert "Brand exposure and revenue on arena-live (6 s of video)" in out
    for brand in settings.catalog.brands:
        assert f"\n{brand.brand_id:12} " in out
    for table in ("bronze.segments", "silver.segment_context", "silver.frame_brands"):
        assert read_table(settings, table).num_rows > 0, table
    exposure = read_table(settings, "gold.brand_exposure_minute")
    assert exposure.num_rows > 0 and set(exposure.column("stream_id").to_pylist()) == {"arena-live"}
    assert read_table(settings, "gold.impression_context").num_rows > 0
    assert "gold.revenue_minute" in out and "duckdb.sql" in out
    assert not spark.streams.active  # the demo stopped its queries
