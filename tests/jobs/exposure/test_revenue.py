"""Impressions in context and revenue per minute, on hand-built events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobs.exposure.metrics import BrandSeen, Frame
from jobs.exposure.revenue import impression_context, revenue_minutes

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
FIZZ = BrandSeen("fizzco", 0.9, (0.4, 0.4, 0.6, 0.6), 0.04)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


FRAMES = [
    Frame("s", at(10.0), 0.5, (FIZZ,), "sports", 0.99),
    Frame("s", at(10.5), 0.5, (), "studio", 0.98),
    Frame("s", at(59.5), 0.5, (FIZZ,), "sports", 0.97),
]
IDS = ["f-0", "f-1", "f-2"]


def impression(event_id: str, seconds: float, cpm: float = 10.0, brand: str = "fizzco") -> dict:
    return {
        "event_id": event_id, "event_time": at(seconds), "stream_id": "s",
        "campaign_id": f"cmp-{brand}", "brand_id": brand, "clearing_cpm": cpm,
    }  # fmt: skip


def test_an_impression_takes_the_latest_frame_at_or_before_it():
    rows = impression_context(
        [
            impression("exactly-on-a-frame", 10.0),
            impression("between-frames", 10.4),
            impression("after-the-brand-left", 10.5),
            impression("before-any-frame", 9.9),
            impression("too-long-after", 13.0),  # 2.5 s after the last frame, max age 2 s
            impression("last-second-of-the-minute", 60.0),
        ],
        FRAMES,
        IDS,
        max_age_s=2.0,
    )
    by_id = {r["event_id"]: r for r in rows}
    assert by_id["exactly-on-a-frame"]["frame_id"] == "f-0"
    assert by_id["exactly-on-a-frame"]["own_brand_on_screen"] is True
    assert by_id["between-frames"]["brands_on_screen"] == ["fizzco"]
    assert by_id["after-the-brand-left"]["frame_id"] == "f-1"
    assert by_id["after-the-brand-left"]["own_brand_on_screen"] is False
    assert by_id["after-the-brand-left"]["scene_label"] == "studio"
    for empty in ("before-any-frame", "too-long-after"):
        assert by_id[empty]["frame_id"] is None and by_id[empty]["brands_on_screen"] == []
    edge = by_id["last-second-of-the-minute"]
    assert edge["minute"] == T0 + timedelta(minutes=1) and edge["frame_id"] == "f-2"


def test_revenue_per_campaign_and_minute():
    contexts = impression_context(
        [impression("a", 10.0, 8.0), impression("b", 10.6, 4.0), impression("c", 70, 6.0)],
        FRAMES,
        IDS,
        max_age_s=2.0,
    )
    clicks = [{"stream_id": "s", "campaign_id": "cmp-fizzco", "event_time": at(12)}]
    rows = revenue_minutes(contexts, clicks)
    first, second = rows
    assert (first["minute"], first["impressions"], first["clicks"]) == (T0, 2, 1)
    assert first["revenue"] == pytest.approx(0.012) and first["ecpm"] == pytest.approx(6.0)
    assert first["ctr"] == 0.5
    assert first["revenue_brand_on_screen"] == pytest.approx(0.008)  # only "a" saw its brand
    assert (second["impressions"], second["clicks"], second["ctr"]) == (1, 0, 0.0)
