"""Audience and QoE from beacons, on planted sessions whose numbers are worked out by hand."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from jobs.audience.metrics import (
    PLAYER_COLUMNS,
    Viewing,
    audience_exposure,
    audience_minutes,
    beacons,
    qoe_minutes,
    viewing,
)
from jobs.exposure.metrics import BrandSeen, Frame

T0 = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
TIMEOUT = 30.0
MINUTES = [T0, T0 + timedelta(minutes=1)]


def beacon(session: str | None, second: float, kind: str, viewer: str = "", **fields) -> dict:
    row = dict.fromkeys(PLAYER_COLUMNS)
    row.update(
        event_id=f"{session or viewer}-{second}-{kind}",
        event_time=T0 + timedelta(seconds=second),
        stream_id="arena",
        viewer_id=viewer or f"v-{session}",
        session_id=session,
        event_type=kind,
        position_s=fields.pop("position_s", 0.0),
        bitrate_kbps=fields.pop("bitrate_kbps", 3000),
        device="tv",
        geo="US",
        cdn="cdn-a",
        **fields,
    )
    return row


def planted() -> list[dict]:
    """A: starts at 0, first frame at 1 s, beats every 10 s, ends at 95 s.
    B: first frame at 30 s, beats at 40 and 50 s, then its tab closes (no end beacon).
    C: no session id (an older player): beats at 0 and 10 s, silent, beats at 70 and 80 s.
    D: pauses at 20 s and plays again at 40 s."""
    a = [beacon("A", 0, "session_start"), beacon("A", 1, "play", startup_ms=1000)]
    a += [beacon("A", s, "heartbeat", position_s=s - 1) for s in range(11, 95, 10)]
    a += [beacon("A", 95, "session_end", position_s=94)]
    a += [beacon("A", 33, "rebuffer_start"), beacon("A", 35, "rebuffer_end", rebuffer_ms=2000)]
    b = [beacon("B", 29, "session_start"), beacon("B", 30, "play", startup_ms=1000)]
    b += [beacon("B", 40, "heartbeat", position_s=10), beacon("B", 50, "heartbeat", position_s=20)]
    c = [beacon(None, s, "heartbeat", viewer="v-C", position_s=s) for s in (0, 10, 70, 80)]
    d = [beacon("D", 0, "heartbeat"), beacon("D", 20, "pause"), beacon("D", 40, "play")]
    d += [beacon("D", 50, "heartbeat"), beacon("D", 60, "session_end", position_s=40)]
    return a + b + c + d


def measure(rows: list[dict]) -> Viewing:
    return viewing(beacons(pd.DataFrame(rows, columns=PLAYER_COLUMNS)), TIMEOUT)


def test_concurrency_sessions_and_view_duration_by_hand():
    first, second = audience_minutes("arena", measure(planted()), MINUTES)
    # minute 0: A 1-60 (59 s), B 30-50 (20 s), C 0-10 (10 s), D 0-20 and 40-60 (40 s)
    assert first["viewer_seconds"] == pytest.approx(129)
    assert first["avg_concurrent_viewers"] == pytest.approx(129 / 60)
    assert first["peak_concurrent_viewers"] == 3  # A, B and D between 40 and 50 s
    assert first["unique_viewers"] == 4
    assert (first["sessions_attempted"], first["sessions_started"]) == (2, 2)
    # B timed out at its last beacon (50 s: the stream goes on past 80 s); D ended at 60 s, in
    # the next minute; C's silence ended a visit, not the session (it beats again)
    assert first["sessions_ended"] == 1
    assert first["avg_view_duration_s"] == pytest.approx(20)
    # minute 1: A 60-95 (35 s), C 70-80 (10 s)
    assert second["viewer_seconds"] == pytest.approx(45)
    assert second["peak_concurrent_viewers"] == 2
    assert second["unique_viewers"] == 2
    # A's and D's end beacons; C's last beacon (80 s) is not 30 s old at the newest (95 s)
    assert second["sessions_ended"] == 2
    assert second["avg_view_duration_s"] == pytest.approx((94 + 40) / 2)


def test_late_out_of_order_and_repeated_beacons_change_nothing():
    rows = planted()
    shuffled = rows + random.Random(3).sample(rows, 10)
    random.Random(4).shuffle(shuffled)
    assert audience_minutes("arena", measure(shuffled), MINUTES) == audience_minutes(
        "arena", measure(rows), MINUTES
    )


def test_ad_events_say_nothing_about_the_player():
    # sent when its ad was served: the bitrate of then, and after B's tab closed
    ads = [beacon("A", 40, "ad_complete", bitrate_kbps=800), beacon("B", 65, "ad_complete")]
    rows = [*planted(), *ads]
    assert measure(rows).events.equals(measure(planted()).events)


def test_a_session_that_is_still_quiet_has_not_ended_yet():
    # the stream's newest beacon is 20 s after B's last: B may still beat again
    rows = [r for r in planted() if r["event_time"] <= T0 + timedelta(seconds=70)]
    first = audience_minutes("arena", measure(rows), MINUTES[:1])[0]
    assert first["sessions_ended"] == 0


def test_qoe_by_hand():
    (row,) = qoe_minutes("arena", measure(planted()), MINUTES[:1])
    assert (row["device"], row["geo"], row["cdn"]) == ("tv", "US", "cdn-a")
    assert row["attempts"] == 2
    assert row["startup_p50_ms"] == 1000
    assert row["rebuffer_seconds"] == 2.0
    assert row["rebuffer_ratio"] == pytest.approx(2 / (2 + 129))
    assert row["mean_bitrate_kbps"] == pytest.approx(3000)
    assert (row["errors"], row["abandoned"]) == (0, 0)


def test_abandonment_and_errors():
    rows = [beacon("E", 5, "session_start"), beacon("E", 9, "session_end")]
    rows += [beacon("F", 0, "session_start"), beacon("F", 1, "play", startup_ms=1000)]
    rows += [
        beacon("F", 11, "heartbeat", position_s=10),
        beacon("F", 15, "error", error_code="X", position_s=14),
    ]
    (row,) = qoe_minutes("arena", measure(rows), MINUTES[:1])
    assert (row["attempts"], row["abandoned"], row["abandonment_rate"]) == (2, 1, 0.5)
    assert (row["errors"], row["sessions"], row["error_rate"]) == (1, 2, 0.5)


def test_audience_weighted_exposure_by_hand():
    spans = measure(planted()).spans
    brand_x = (BrandSeen("x", 0.9, (0.1, 0.1, 0.2, 0.2), 0.01),)
    brand_y = (BrandSeen("y", 0.9, (0.1, 0.1, 0.2, 0.2), 0.01),)
    # x on screen 10-20 s (20 frames of 0.5 s), y 45-46 s (2 frames)
    frames = [Frame("arena", T0 + timedelta(seconds=10 + i / 2), 0.5, brand_x) for i in range(20)]
    frames += [Frame("arena", T0 + timedelta(seconds=45 + i / 2), 0.5, brand_y) for i in range(2)]
    seen = audience_exposure(frames, spans, min_view_seconds=2.0)
    # x, 10-20 s: A watched all 10 s, C none (its visit ended at 10 s), D 10 s, B not yet
    assert seen[(T0, "x")] == (pytest.approx(20.0), 2)
    # y, 45-46 s: A, B and D each 1 s, under the 2 s an exposure impression needs
    assert seen[(T0, "y")] == (pytest.approx(3.0), 0)


def test_no_beacons_yet_is_an_empty_audience():
    seen = measure([])
    assert audience_minutes("arena", seen, MINUTES) == []
    assert qoe_minutes("arena", seen, MINUTES[:1]) == []
    frame = Frame("arena", T0, 0.5, (BrandSeen("x", 0.9, (0.1, 0.1, 0.2, 0.2), 0.01),))
    assert audience_exposure([frame], seen.spans, 2.0) == {(T0, "x"): (0.0, 0)}
