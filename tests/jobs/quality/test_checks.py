"""The data-quality checks on tiny frames, run by the real Great Expectations."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pytest

from jobs.quality.checks import (
    Check,
    field_expectations,
    freshness_check,
    share_of_voice_check,
    table_check,
)
from jobs.quality.run import summary, validate
from schemas.events import IMPRESSIONS
from schemas.tables import BRAND_EXPOSURE_MINUTE, SEGMENT_CONTEXT

MINUTE = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def run(tmp_path):
    return lambda checks: validate(checks, tmp_path / "gx", sample_rows=3, docs=False)


def exposure(rows: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"stream_id": s, "brand_id": b, "minute": MINUTE, "screen_seconds": sec,
             "share_of_voice": sov}
            for s, b, sec, sov in rows
        ]
    )  # fmt: skip


def test_share_of_voice_must_sum_to_one_per_stream_minute(run):
    frame = exposure([("a", "fizzco", 30, 0.5), ("a", "lumen", 30, 0.5),
                      ("b", "fizzco", 30, 1.5), ("c", "lumen", 0.0, 0.0)])  # fmt: skip
    (outcome,) = run([share_of_voice_check(frame)])
    assert not outcome.success and outcome.unexpected == 1 and outcome.checked_rows == 2
    assert json.loads(outcome.sample) == [
        {"stream_id": "b", "minute": "2026-12-01 12:00:00+00:00", "share_of_voice_total": 1.5}
    ]
    assert "share of voice per stream-minute" in summary([outcome])


def test_a_stream_with_segments_and_no_analysed_frame_is_stale(run):
    segments = pd.DataFrame({"stream_id": ["a", "b"], "start_time": [MINUTE, MINUTE]})
    frames = pd.DataFrame({"stream_id": ["a"], "frame_time": [MINUTE - pd.Timedelta(minutes=2)]})
    check = freshness_check(SEGMENT_CONTEXT, frames, segments, max_lag_minutes=10)
    assert check.frame.set_index("stream_id")["lag_minutes"].to_dict() == {
        "a": 2.0,
        "b": float("inf"),
    }
    (outcome,) = run([check])
    assert not outcome.success and outcome.unexpected == 1 and '"b"' in outcome.sample


def test_event_rules_become_expectations_that_match_the_whole_value(run):
    geo = next(f for f in IMPRESSIONS.fields if f.name == "geo")
    frame = pd.DataFrame({"event_id": ["e1", "e2", "e3"], "geo": ["DE", "DEU", None]})
    outcomes = run(
        [Check("geo", "bronze.impressions", frame, field_expectations(geo), ["event_id"])]
    )
    by_type = {o.expectation: o for o in outcomes}
    assert not by_type["expect_column_values_to_not_be_null"].success
    regex = by_type["expect_column_values_to_match_regex"]
    assert not regex.success and regex.unexpected == 1 and '"e2"' in regex.sample


def test_a_rule_on_a_missing_column_names_the_column_instead_of_running(run):
    frame = exposure([("a", "fizzco", 30, 1.0)]).drop(columns=["share_of_voice"])
    check = table_check(BRAND_EXPOSURE_MINUTE, frame, ["fizzco"], max_interval_s=4.0)
    outcomes = run([check])
    broken = [o for o in outcomes if o.error]
    assert broken and all(not o.success for o in broken)
    assert any(
        "column share_of_voice is not in gold.brand_exposure_minute" in o.error for o in broken
    )
    schema = next(o for o in outcomes if o.expectation == "expect_table_columns_to_match_set")
    assert not schema.success  # the table lacks most of its declared columns
