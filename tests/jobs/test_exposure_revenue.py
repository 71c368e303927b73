"""exposure_revenue on hand-built events through the real broker, Spark, Delta and Redis.

Frames of stream `s` show fizzco at 10.0 s and 50.0 .. 59.5 s (nothing at 10.5 s); impressions
fall exactly on a frame, between frames, on a minute boundary; two players watch (one from 1 s to
95 s, one from 46 s to 70 s); later runs bring one record late within the allowed lateness and
one beyond it, and a changed rate card.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import redis

from jobs.common.live_state import (
    AUDIENCE_KEY,
    EXPOSURE_KEY,
    MENTIONS_KEY,
    REVENUE_KEY,
    redis_url,
)
from jobs.exposure_revenue import run
from tests.support import isolated, produce, read_table

pytestmark = pytest.mark.spark
T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
BOX = [0.4, 0.4, 0.6, 0.6]


def frame(
    seconds: float,
    *brands: str,
    stream: str = "s",
    interval: float = 0.5,
    refined=False,
    mentions: list[dict] | None = None,
) -> bytes:
    at = T0 + timedelta(seconds=seconds)
    return json.dumps(
        {
            "frame_id": f"{stream}-{seconds}", "stream_id": stream, "segment_id": "seg",
            "frame_time": at.isoformat(), "interval_s": interval, "refined": refined,
            "scene_label": None if refined else "sports",
            "safety_score": None if refined else 0.99, "person_count": None if refined else 2,
            "brands": [
                {"brand_id": b, "confidence": 0.9, "box": BOX, "area_share": 0.04} for b in brands
            ],
            **({"mentions": mentions} if mentions is not None else {}),
        }
    ).encode()  # fmt: skip


def impression(event_id: str, seconds: float, cpm: float = 10.0, stream: str = "s") -> bytes:
    return json.dumps(
        {
            "event_id": event_id, "event_time": (T0 + timedelta(seconds=seconds)).isoformat(),
            "stream_id": stream, "viewer_id": "v-p1", "campaign_id": "cmp-fizz-summer",
            "advertiser_id": "adv-northwind", "brand_id": "fizzco", "slot_type": "overlay",
            "bid_cpm": cpm + 1, "clearing_cpm": cpm, "currency": "USD", "device": "tv",
            "geo": "US",
        }
    ).encode()  # fmt: skip


def click(event_id: str, seconds: float) -> bytes:
    return json.dumps(
        {
            "event_id": event_id, "event_time": (T0 + timedelta(seconds=seconds)).isoformat(),
            "stream_id": "s", "viewer_id": "v-p1", "event_type": "click", "position_s": 1.0,
            "bitrate_kbps": 3000, "campaign_id": "cmp-fizz-summer",
        }
    ).encode()  # fmt: skip


def player_session(session: str, start: float, end: float, stream: str = "s") -> list[bytes]:
    """A session's beacons: start, first frame a second later, a heartbeat every 10 s, end."""
    beats = [("session_start", start), ("play", start + 1)]
    beats += [("heartbeat", s) for s in range(int(start) + 11, int(end), 10)]
    beats += [("session_end", end)]
    return [
        json.dumps(
            {
                "event_id": f"{session}-{kind}-{at}", "stream_id": stream,
                "viewer_id": f"v-{session}", "session_id": session,
                "event_time": (T0 + timedelta(seconds=at)).isoformat(),
                "event_type": kind, "position_s": max(0.0, at - start - 1), "bitrate_kbps": 3000,
                "startup_ms": 1000 if kind == "play" else None,
                "device": "tv", "geo": "US", "cdn": "cdn-a",
            }
        ).encode()
        for kind, at in beats
    ]  # fmt: skip


@pytest.fixture
def settings(isolated_settings):
    return isolated_settings(exposure__allowed_lateness_s=120)


@pytest.fixture(scope="module")
def first_run(stack, spark, tmp_path_factory):
    """Frames at 10.0 s (fizzco), 10.5 s (none) and 50.0 .. 59.5 s (fizzco); three impressions,
    a click and a record that is not JSON; one run until caught up."""
    settings = isolated(
        stack, tmp_path_factory.mktemp("exposure"), exposure__allowed_lateness_s=120
    )
    seconds = [10.0, 10.5, *[s / 2 for s in range(100, 120)]]
    shown = {10.0, *[s / 2 for s in range(100, 120)]}
    produce(
        settings, "detections", [frame(s, *(["fizzco"] if s in shown else [])) for s in seconds]
    )
    produce(settings, "detections", [b"{not json"])
    produce(
        settings,
        "impressions",
        [impression("on-frame", 10.0), impression("brand-gone", 10.7), impression("edge", 60.0)],
    )
    produce(settings, "viewer_events", [click("c-1", 11.0)])
    produce(
        settings, "viewer_events", [*player_session("p1", 0, 95), *player_session("p2", 45, 70)]
    )
    run(settings, available_now=True)
    return settings


def test_concurrent_viewers_sessions_and_view_duration_per_minute(first_run):
    audience = {r["minute"]: r for r in read_table(first_run, "gold.audience_minute").to_pylist()}
    first, second = audience[T0], audience[T0 + timedelta(minutes=1)]
    # p1 watches 1 .. 60 s (59 s) and p2 46 .. 60 s (14 s); then 60 .. 95 s and 60 .. 70 s
    assert first["viewer_seconds"] == pytest.approx(73)
    assert first["avg_concurrent_viewers"] == pytest.approx(73 / 60)
    assert (first["peak_concurrent_viewers"], first["unique_viewers"]) == (2, 2)
    assert (first["sessions_attempted"], first["sessions_started"]) == (2, 2)
    assert second["viewer_seconds"] == pytest.approx(45)
    assert second["sessions_ended"] == 2
    assert second["avg_view_duration_s"] == pytest.approx((94 + 24) / 2)
    (qoe,) = [r for r in read_table(first_run, "gold.qoe_minute").to_pylist() if r["minute"] == T0]
    assert (qoe["device"], qoe["attempts"], qoe["startup_p50_ms"]) == ("tv", 2, 1000)
    assert qoe["mean_bitrate_kbps"] == 3000 and qoe["rebuffer_ratio"] == 0


def test_exposure_is_weighted_by_the_viewers_watching(first_run):
    (row,) = read_table(first_run, "gold.brand_exposure_minute").to_pylist()
    # fizzco's 10.5 s on screen: p1 watched all of it, p2 the 10 s from 50 s (from 46 s on)
    assert row["viewer_seconds"] == pytest.approx(10.5 + 10)
    assert row["exposure_impressions"] == 2  # both saw it for at least min_view_seconds (2 s)


def test_screen_seconds_count_sampled_frames_and_appearances_their_runs(first_run):
    (row,) = read_table(first_run, "gold.brand_exposure_minute").to_pylist()
    # 10.0 -> 10.5 (brand gone at 10.5: a one-frame appearance) and 50.0 .. 59.5 held to 60.0.
    assert (row["minute"], row["screen_seconds"], row["appearances"]) == (T0, 10.5, 2)
    assert row["share_of_voice"] == 1.0 and row["currency"] == "USD"
    assert row["rate_per_second"] == 0.02
    assert row["media_value"] == pytest.approx(10.5 * row["quality_index"] * 0.02)


def test_an_impression_takes_the_latest_frame_at_or_before_it(first_run):
    contexts = {
        r["event_id"]: r for r in read_table(first_run, "gold.impression_context").to_pylist()
    }
    assert contexts["on-frame"]["own_brand_on_screen"] is True
    assert contexts["brand-gone"]["brands_on_screen"] == []
    assert contexts["edge"]["minute"] == T0 + timedelta(minutes=1)
    assert contexts["edge"]["frame_id"] == "s-59.5" and contexts["edge"]["own_brand_on_screen"]


def test_revenue_per_minute_counts_impressions_clicks_and_on_screen_revenue(first_run):
    revenue = {r["minute"]: r for r in read_table(first_run, "gold.revenue_minute").to_pylist()}
    first = revenue[T0]
    assert (first["impressions"], first["clicks"], first["ctr"]) == (2, 1, 0.5)
    assert first["revenue"] == pytest.approx(0.02) and first["ecpm"] == pytest.approx(10.0)
    assert first["revenue_brand_on_screen"] == pytest.approx(0.01)


def test_frames_count_the_interval_frame_analysis_measured_whatever_the_rates(settings):
    """frame_analysis sampling at 5 frames/s while this job's configuration keeps the default
    2: every frame counts the 0.2 s it stands for (a fixed step counted each as 0.5 s, screen
    seconds 2.5x the truth); a boundary frame counts its own interval and takes its sampled
    neighbour's scene for the impressions it gives context to."""
    assert settings.jobs.frame_analysis.sample_fps == 2.0
    # (A stream of its own: Redis's live state is shared with the module's other tests.)
    fast = [frame(10 + n / 5, "lumen", stream="rates", interval=0.2) for n in range(20)]
    boundary = [
        frame(20.0, stream="rates", interval=0.4),
        frame(20.4, "lumen", stream="rates", interval=0.1, refined=True),  # first with it
        frame(20.5, "lumen", stream="rates", interval=0.5),
        frame(21.0, stream="rates", interval=0.5),
    ]
    produce(settings, "detections", fast + boundary)
    produce(settings, "impressions", [impression("on-boundary", 20.45, stream="rates")])
    run(settings, available_now=True)
    (row,) = read_table(settings, "gold.brand_exposure_minute").to_pylist()
    assert row["screen_seconds"] == pytest.approx(4.0 + 0.6)
    assert row["frames"] == 22 and row["appearances"] == 2
    (context,) = read_table(settings, "gold.impression_context").to_pylist()
    assert context["brands_on_screen"] == ["lumen"] and context["scene_label"] == "sports"


def test_a_late_end_beacon_completes_its_minute(settings):
    """p1's end beacon reaches the job a run after the rest (within the allowed lateness): the
    minute is recomputed with it, as if it had come in order."""
    # (Streams of their own here and below: Redis's live state is shared with the module.)
    p1 = player_session("p1", 0, 95, stream="late-end")
    produce(settings, "viewer_events", [*p1[:-1], *player_session("p2", 45, 70, "late-end")])
    run(settings, available_now=True)
    minute = T0 + timedelta(minutes=1)

    def second_minute() -> dict:
        rows = read_table(settings, "gold.audience_minute").to_pylist()
        return next(r for r in rows if r["minute"] == minute)

    before = second_minute()
    # p1 is seen to 91 s (its last heartbeat) and has not ended yet; p2 ended at 70 s
    assert before["viewer_seconds"] == pytest.approx(31 + 10)
    assert before["sessions_ended"] == 1
    produce(settings, "viewer_events", p1[-1:])
    run(settings, available_now=True)
    after = second_minute()
    assert after["viewer_seconds"] == pytest.approx(35 + 10)
    assert after["sessions_ended"] == 2 and after["avg_view_duration_s"] == pytest.approx(59)


def test_media_value_priced_per_thousand_exposure_impressions(isolated_settings):
    settings = isolated_settings(
        catalog__rate_card__pricing="exposure_impressions", catalog__rate_card__exposure_cpm=8.0
    )
    shown = [s / 2 for s in range(100, 120)]  # fizzco from 50 s to 60 s, both players watch
    produce(settings, "detections", [frame(s, "fizzco", stream="priced") for s in shown])
    viewers = [*player_session("p1", 0, 95, "priced"), *player_session("p2", 45, 70, "priced")]
    produce(settings, "viewer_events", viewers)
    run(settings, available_now=True)
    (row,) = read_table(settings, "gold.brand_exposure_minute").to_pylist()
    assert row["exposure_impressions"] == 2
    assert row["media_value"] == pytest.approx(2 / 1000 * 8.0 * row["quality_index"])


def test_a_frame_message_without_its_interval_is_quarantined(settings):
    message = json.loads(frame(10.0, "lumen", stream="no-interval"))
    del message["interval_s"]
    produce(settings, "detections", [json.dumps(message).encode()])
    run(settings, available_now=True)
    (quarantined,) = read_table(settings, "bronze.quarantine").to_pylist()
    assert "interval_s" in quarantined["reason"]


def test_a_malformed_frame_message_is_quarantined_with_its_reason(first_run):
    quarantine = read_table(first_run, "bronze.quarantine").to_pylist()
    assert [q["reason"] for q in quarantine] == ["frame message is not JSON"]


def test_live_exposure_revenue_and_audience_go_to_redis_from_gold(first_run):
    live = redis.Redis.from_url(redis_url(first_run), decode_responses=True)
    assert float(live.hgetall(EXPOSURE_KEY.format(stream_id="s"))["fizzco"]) == 10.5
    assert (
        live.hgetall(REVENUE_KEY.format(stream_id="s"))["minute"]
        == (T0 + timedelta(minutes=1)).isoformat()
    )
    # the newest minute with beacons is still filling: the one before it is shown
    audience = live.hgetall(AUDIENCE_KEY.format(stream_id="s"))
    assert audience["minute"] == T0.isoformat()
    assert (float(audience["viewers"]), audience["peak"]) == (pytest.approx(73 / 60, abs=1e-3), "2")


def test_late_records_within_the_allowed_lateness_count_and_later_ones_are_kept_out(settings):
    produce(settings, "detections", [frame(10.0, "fizzco")])
    run(settings, available_now=True)
    # Later, the newest frame is at 300 s and the newest impression at 400 s; then a frame 100 s
    # older (within the 120 s allowed) and an impression 350 s older (beyond) arrive.
    produce(settings, "detections", [frame(300.0, "lumen")])
    produce(settings, "impressions", [impression("newest", 400.0)])
    run(settings, available_now=True)
    produce(settings, "detections", [frame(200.0, "lumen")])
    produce(settings, "impressions", [impression("too-late", 50.0)])
    run(settings, available_now=True)
    frames = read_table(settings, "silver.frame_brands").to_pylist()
    assert {f["frame_id"]: f["late"] for f in frames}["s-200.0"] is False
    impressions = read_table(settings, "silver.impressions").to_pylist()
    late = {i["event_id"]: i["late"] for i in impressions}
    assert late["too-late"] is True and late["newest"] is False
    contexts = read_table(settings, "gold.impression_context").column("event_id").to_pylist()
    assert "too-late" not in contexts and "newest" in contexts
    minutes = {
        (r["brand_id"], r["minute"]): r["screen_seconds"]
        for r in read_table(settings, "gold.brand_exposure_minute").to_pylist()
    }
    assert minutes[("lumen", T0 + timedelta(minutes=3))] == 0.5  # the late-but-allowed frame
    assert minutes[("fizzco", T0)] == 0.5  # untouched minutes keep their rows


def test_a_changed_rate_card_prices_new_minutes_and_leaves_priced_ones(settings, spark):
    from jobs.common.lake import OpenTables
    from jobs.exposure_revenue import recompute

    produce(settings, "detections", [frame(10.0, "fizzco"), frame(10.5, "fizzco")])
    run(settings, available_now=True)
    card = settings.catalog.rate_card.model_copy(update={"default_per_second": 0.1})
    changed = settings.model_copy(
        update={"catalog": settings.catalog.model_copy(update={"rate_card": card})}
    )
    # A late frame re-opens the priced minute; a new minute starts after the change.
    produce(settings, "detections", [frame(20.0, "fizzco"), frame(70.0, "fizzco")])
    run(changed, available_now=True)
    rows = {r["minute"]: r for r in read_table(settings, "gold.brand_exposure_minute").to_pylist()}
    old, new = rows[T0], rows[T0 + timedelta(minutes=1)]
    assert old["screen_seconds"] == 1.5 and old["rate_per_second"] == 0.02
    assert old["media_value"] == pytest.approx(1.5 * old["quality_index"] * 0.02)
    assert new["rate_per_second"] == 0.1
    assert new["media_value"] == pytest.approx(0.5 * new["quality_index"] * 0.1)
    backfill = recompute(OpenTables(changed), {"s": (T0, T0)}, reprice=True)
    assert [r["rate_per_second"] for r in backfill.exposure] == [0.1]


def test_brands_named_on_screen_and_out_loud_make_mention_minutes(settings):
    """A caption naming lumen read four times (once a second) is one text mention of 4 s; a
    spoken name is a speech mention; a frame carrying a malformed mention is quarantined."""

    def named(seconds: float, kind: str = "text", duration: float = 1.0) -> dict:
        return {"mention_id": f"m-{kind}-{seconds}", "brand_id": "lumen", "kind": kind,
                "mention_time": (T0 + timedelta(seconds=seconds)).isoformat(),
                "duration_s": duration}  # fmt: skip

    frames = [frame(s, stream="named", mentions=[named(s)]) for s in (20.0, 21.0, 22.0, 23.0)]
    frames.append(frame(25.0, stream="named", mentions=[named(25.2, "speech", 0.7)]))
    broken = frame(26.0, stream="named", mentions=[{"brand_id": "lumen"}])
    produce(settings, "detections", [*frames, broken])
    run(settings, available_now=True)
    rows = [r for r in read_table(settings, "gold.brand_mentions_minute").to_pylist()
            if r["stream_id"] == "named"]  # fmt: skip
    (lumen,) = rows
    assert (lumen["brand_id"], lumen["minute"]) == ("lumen", T0)
    assert (lumen["text_mentions"], lumen["text_seconds"]) == (1, 4.0)
    assert (lumen["speech_mentions"], lumen["speech_seconds"]) == (1, 0.7)
    card = settings.catalog.rate_card
    assert lumen["media_value"] == pytest.approx(
        4.0 * card.default_per_second * card.mentions.text_weight + card.mentions.per_spoken_mention
    )
    reasons = [r["reason"] for r in read_table(settings, "bronze.quarantine").to_pylist()]
    assert any("mentions: malformed entry" in reason for reason in reasons)
    live = redis.Redis.from_url(redis_url(settings), decode_responses=True)
    stored = live.hgetall(MENTIONS_KEY.format(stream_id="named"))
    assert json.loads(stored["lumen"]) == {
        "text_mentions": 1, "text_seconds": 4.0, "speech_mentions": 1}  # fmt: skip
    assert stored["_until"] == T0.isoformat()
