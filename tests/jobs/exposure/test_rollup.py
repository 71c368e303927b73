"""Roll-ups of gold rows: ratios recomputed from summed seconds and counts, never summed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from jobs.exposure.metrics import ctr, ecpm, ratio, share_of_voice
from jobs.exposure.revenue import safety_band
from jobs.exposure.rollup import exposure_rollup, revenue_rollup

M0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
M1 = M0 + timedelta(minutes=1)


def exposure_rows() -> pd.DataFrame:
    """Two streams in minute M0 (each brand alone on one stream: 100 % share there), one in M1."""
    rows = [
        ("a", "fizzco", M0, 30.0, 1.0, 0.8, 0.6, 2),
        ("b", "fizzco", M0, 10.0, 0.25, 0.4, 0.1, 1),
        ("b", "lumen", M0, 30.0, 0.75, 0.6, 0.3, 1),
        ("a", "lumen", M1, 20.0, 1.0, 0.5, 0.2, 1),
    ]
    columns = ["stream_id", "brand_id", "minute", "screen_seconds", "share_of_voice",
               "quality_index", "media_value", "appearances"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def test_share_of_voice_per_minute_over_two_streams_is_recomputed_not_summed():
    per_minute = exposure_rollup(exposure_rows(), ["minute", "brand_id"]).set_index(
        ["minute", "brand_id"]
    )
    # Summed, fizzco's M0 share would be 1.0 + 0.25 = 125 %.
    assert per_minute.loc[(M0, "fizzco"), "share_of_voice"] == pytest.approx(40 / 70)
    assert per_minute.loc[(M0, "lumen"), "share_of_voice"] == pytest.approx(30 / 70)
    assert per_minute.loc[(M1, "lumen"), "share_of_voice"] == 1.0
    shares = per_minute.groupby(level="minute").share_of_voice.sum()
    assert shares.tolist() == pytest.approx([1.0, 1.0])


def test_per_brand_quality_is_weighted_by_screen_seconds():
    per_brand = exposure_rollup(exposure_rows()).set_index("brand_id")
    assert per_brand.loc["fizzco", "screen_seconds"] == 40.0
    assert per_brand.loc["fizzco", "quality_index"] == pytest.approx((30 * 0.8 + 10 * 0.4) / 40)
    assert per_brand.loc["lumen", "quality_index"] == pytest.approx((30 * 0.6 + 20 * 0.5) / 50)
    assert per_brand.loc["fizzco", "share_of_voice"] == pytest.approx(40 / 90)
    assert per_brand.loc["fizzco", "media_value"] == pytest.approx(0.7)
    assert per_brand.loc["fizzco", "appearances"] == 3
    assert list(per_brand.index) == ["lumen", "fizzco"]  # most screen time first


def test_revenue_rollup_recomputes_ecpm_and_ctr():
    minutes = pd.DataFrame(
        [("c1", "a", M0, 100, 2.0, 1, 1.0), ("c1", "a", M1, 300, 1.0, 5, 0.0),
         ("c2", "a", M0, 0, 0.0, 0, 0.0)],
        columns=["campaign_id", "stream_id", "minute", "impressions", "revenue", "clicks",
                 "revenue_brand_on_screen"],
    )  # fmt: skip
    per = revenue_rollup(minutes).set_index("campaign_id")
    assert per.loc["c1", "ecpm"] == pytest.approx(3.0 * 1000 / 400)  # not the mean of 20 and 3.3
    assert per.loc["c1", "ctr"] == pytest.approx(6 / 400)
    assert per.loc["c1", "on_screen_share"] == pytest.approx(1 / 3)
    assert (per.loc["c2", "ecpm"], per.loc["c2", "ctr"]) == (0.0, 0.0)


def test_empty_rollups_have_their_columns():
    assert "share_of_voice" in exposure_rollup(exposure_rows().iloc[:0]).columns
    assert "ecpm" in revenue_rollup(pd.DataFrame(columns=["campaign_id", "stream_id"])).columns


def test_ratios_take_numbers_and_columns_alike():
    assert ratio(1.0, 0.0) == 0.0 and share_of_voice(1.0, 4.0) == 0.25
    assert ecpm(2.0, 400) == 5.0 and ctr(3, 0) == 0.0
    column = ecpm(pd.Series([2.0, 1.0]), pd.Series([400, 0]))
    assert column.tolist() == [5.0, 0.0]


@pytest.mark.parametrize(
    ("score", "band"),
    [(None, "not scored"), (float("nan"), "not scored"), (0.2, "unsafe (< 0.5)"),
     (0.5, "review (0.5-0.8)"), (0.95, "safe (>= 0.8)")],
)  # fmt: skip
def test_safety_bands(score, band):
    assert safety_band(score) == band
