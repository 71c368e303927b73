"""Brand mentions per minute: a caption read several times is one mention, spoken names each
count, seconds fall in their own minute, and both are priced as the rate card says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobs.common.config import load_settings
from jobs.exposure.mentions import Mention, brand_mention_minutes, mention_runs

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def text(seconds: float, brand: str = "fizzco", duration: float = 1.0) -> Mention:
    return Mention("arena-live", brand, "text", T0 + timedelta(seconds=seconds), duration)


def speech(seconds: float, brand: str = "fizzco") -> Mention:
    return Mention("arena-live", brand, "speech", T0 + timedelta(seconds=seconds), 0.6)


def test_readings_of_one_caption_are_one_mention_and_a_pause_starts_another():
    readings = [text(10), text(11), text(12), text(15), text(11.5, "lumen")]
    runs = mention_runs(readings, gap_tolerance_s=1.0)
    assert [[m.time.second for m in run] for run in runs] == [[10, 11, 12], [11], [15]]
    # spoken names are one mention each; the same name heard again within the tolerance (two
    # overlapping segments both heard it) is the one mention
    assert len(mention_runs([speech(3), speech(3.4), speech(5), speech(5.2, "lumen")], 1.0)) == 3


def test_minutes_count_mentions_where_they_start_and_seconds_where_they_fall():
    card = load_settings().catalog.rate_card
    mentions = [text(58), text(59), text(60), text(61), speech(62), speech(90, "lumen")]
    rows = {(r["brand_id"], r["minute"]): r for r in brand_mention_minutes(mentions, 1.0, card)}
    first, second = rows[("fizzco", T0)], rows[("fizzco", T0 + timedelta(minutes=1))]
    assert (first["text_mentions"], first["text_seconds"]) == (1, 2.0)
    assert (second["text_mentions"], second["text_seconds"]) == (0, 2.0)
    assert (second["speech_mentions"], second["speech_seconds"]) == (1, 0.6)
    rate = card.per_stream["arena-live"]
    assert first["media_value"] == pytest.approx(2.0 * rate * card.mentions.text_weight)
    assert second["media_value"] == pytest.approx(
        2.0 * rate * card.mentions.text_weight + card.mentions.per_spoken_mention
    )
    lumen = rows[("lumen", T0 + timedelta(minutes=1))]
    assert (lumen["text_mentions"], lumen["speech_mentions"]) == (0, 1)
    assert lumen["currency"] == card.currency
    assert brand_mention_minutes([], 1.0, card) == []
