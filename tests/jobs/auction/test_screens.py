"""What a stream shows when an ad is auctioned: simulated, or frame_analysis' live state."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from jobs.auction.market import Screen
from jobs.auction.screens import LiveScreens, SimulatedScreens, screen_from_live
from jobs.common.config import load_settings
from jobs.common.live_state import LIVE_KEY, redis_url, set_if_newer

START = datetime(2026, 11, 22, 12, tzinfo=UTC)


def test_simulated_screens_are_seeded_and_brands_come_and_go():
    catalog = load_settings().catalog
    times = [START + timedelta(seconds=s) for s in range(0, 3600, 5)]
    first = [SimulatedScreens(catalog, 4).screen("arena-live", t) for t in times[:1]]
    again = [SimulatedScreens(catalog, 4).screen("arena-live", t) for t in times[:1]]
    assert first == again
    screens = SimulatedScreens(catalog, 4)
    seen = [screens.screen("arena-live", t) for t in times]
    assert {s.scene for s in seen} == {"sports"}
    shown = [len(s.brands) for s in seen]
    assert min(shown) == 0 < max(shown)  # brands come and go
    assert {s.safety for s in seen} == {0.93, 0.3}  # and the stream is unsafe now and then


def test_a_live_hash_becomes_a_screen():
    live = {"brands": '["fizzco", "lumen"]', "scene_label": "sports", "safety_score": "0.8123"}
    assert screen_from_live(live) == Screen(("fizzco", "lumen"), "sports", 0.8123)
    assert screen_from_live({"brands": "[]", "scene_label": "", "safety_score": ""}) == Screen()
    assert screen_from_live({}) == Screen()


def test_live_screens_read_frame_analysis_state_from_redis(stack):
    url = redis_url(stack)
    stream = f"screens-{uuid.uuid4().hex[:8]}"  # other tests' streams have state of their own
    set_if_newer(url, LIVE_KEY.format(stream_id=stream), 1_000,
                 {"brands": '["velocity"]', "scene_label": "news", "safety_score": "0.9"},
                 ttl_s=60)  # fmt: skip
    screens = LiveScreens(url, refresh_s=0.0)
    assert screens.screen(stream, START) == Screen(("velocity",), "news", 0.9)
    assert screens.screen("no-such-stream", START) == Screen()
