"""Clicks credited to impressions (by the impression id they carry, else last touch) and the
features of an impression."""

from __future__ import annotations

import pandas as pd

from jobs.common.config import load_settings
from jobs.ctr.features import feature_rows, label_clicks


def times(*minutes: float) -> list[pd.Timestamp]:
    return [pd.Timestamp("2026-11-22T12:00:00Z") + pd.Timedelta(minutes=m) for m in minutes]


def test_a_click_credits_the_viewers_latest_impression_of_the_campaign_within_the_window():
    impressions = pd.DataFrame({
        "auction_id": ["a1", "a2", "a3", "a4"],
        "event_time": times(0, 5, 6, 0),
        "viewer_id": ["v1", "v1", "v1", "v2"],
        "campaign_id": ["c1", "c1", "c2", "c1"],
    })  # fmt: skip
    clicks = pd.DataFrame({
        "event_time": times(5.5, 100),
        "viewer_id": ["v1", "v2"],
        "campaign_id": ["c1", "c1"],
        "impression_id": [None, None],
    })  # fmt: skip
    # v1's click at 5.5 min goes to a2 (the latest c1 impression), not a1, not c2's a3; v2's
    # click 100 minutes after its impression is outside the 30-minute window.
    labels = label_clicks(impressions, clicks, attribution_minutes=30)
    assert labels.tolist() == [0, 1, 0, 0]
    assert label_clicks(impressions, clicks.iloc[:0], 30).tolist() == [0, 0, 0, 0]
    # A click that names its impression is credited to it, whatever came after.
    named = clicks.assign(impression_id=["a1", None])
    assert label_clicks(impressions, named, attribution_minutes=30).tolist() == [1, 0, 0, 0]


def test_feature_rows_are_the_filled_auctions_with_their_context():
    settings = load_settings()
    auctions = pd.DataFrame({
        "event_id": ["a1", "a2"], "event_time": times(0, 1), "viewer_id": ["v1", "v2"],
        "stream_id": ["arena-live"] * 2, "slot_type": ["overlay", "midroll"],
        "device": ["tv", "mobile"], "geo": ["US", "DE"], "scene_label": ["sports", None],
        "safety_score": [0.9, None], "brands_on_screen": ["fizzco,lumen", ""],
        "top_campaign_id": ["cmp-fizz-summer", "cmp-lumen-holiday"], "filled": [True, False],
    })  # fmt: skip
    [row] = feature_rows(auctions, settings.catalog, [0.5, 0.8]).to_dict("records")
    assert (row["auction_id"], row["slot"], row["own_brand"], row["safety"]) == (
        "a1", "overlay", "yes", "high")  # fmt: skip
    assert (row["daypart"], row["scene"], row["brands"]) == (
        "afternoon", "sports", ["fizzco", "lumen"])  # fmt: skip
