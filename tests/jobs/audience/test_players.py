"""The simulated players against the audience measured from their beacons: the measurement
finds the concurrency the simulator knows to be true, and ads complete less where playback
stalls."""

from __future__ import annotations

import collections
import itertools
import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from jobs.audience.ivt import invalid_viewers
from jobs.audience.metrics import PLAYER_COLUMNS, audience_minutes, beacons, viewing
from jobs.audience.players import concurrent_viewers
from jobs.audience.rollup import ads_by_qoe_band, viewer_rebuffering
from jobs.common.config import load_settings
from jobs.simulate import simulator
from schemas.events import VIEWER_EVENTS
from tests.jobs.audience.traffic import by_stream, learnt_score

START = datetime(2026, 3, 1, 19, 59, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def simulated():
    settings = load_settings()
    simulation = simulator(settings, start=START, rate_per_s=200, seed=3)
    records = list(itertools.islice(simulation, 70_000))
    return settings, simulation, records


def test_every_beacon_is_a_valid_viewer_event_of_its_session(simulated):
    _, simulation, records = simulated
    events = [json.loads(r.value) for r in records if r.topic == "viewer_events"]
    assert all(VIEWER_EVENTS.validate(e) == [] for e in events)
    kinds = collections.Counter(e["event_type"] for e in events)
    expected = {"session_start", "play", "heartbeat", "rebuffer_start", "rebuffer_end",
                "bitrate_switch", "session_end", "click"}  # fmt: skip
    assert expected <= set(kinds), kinds
    sessions = {s.session_id: s for s in simulation.players.sessions}
    for event in events[:2000]:
        session = sessions[event["session_id"]]
        assert (event["viewer_id"], event["stream_id"]) == (session.viewer_id, session.stream_id)
    # beacons reach Kafka late and out of order, as a collector receives them
    times = [e["event_time"] for e in events]
    assert times != sorted(times)


def test_measured_concurrency_without_invalid_traffic_is_within_one_percent_of_the_truth(
    simulated,
):
    settings, simulation, records = simulated
    timeout = settings.audience.session_timeout_s
    streams = by_stream(records)
    # click farms pass every rule: the learnt score (fitted on other traffic) finds them
    other = simulator(settings, start=START, rate_per_s=200, seed=29)
    model = learnt_score(by_stream(list(itertools.islice(other, 200_000))), settings)
    last_full_minute = simulation.clock.replace(second=0, microsecond=0) - timedelta(minutes=1)
    minutes = [START.replace(second=0) + timedelta(minutes=i) for i in range(1, 4)]
    assert minutes[-1] <= last_full_minute
    compared = 0
    for stream, (served, clicks, of_stream) in streams.items():
        flags = invalid_viewers(
            served, clicks, of_stream, settings.audience.invalid_traffic, timeout, model
        )
        for row in audience_minutes(stream, viewing(of_stream, timeout), minutes, flags):
            truth = concurrent_viewers(simulation.players.sessions, stream, row["minute"])
            assert row["avg_concurrent_viewers"] == pytest.approx(truth, rel=0.01), row
            compared += 1
    assert compared == 3 * len(settings.catalog.streams)


def test_players_complete_fewer_ads_when_playback_stalls(simulated):
    settings, _, records = simulated
    rows = [json.loads(r.value) for r in records if r.topic == "viewer_events"]
    completed = [r["impression_id"] for r in rows if r["event_type"] == "ad_complete"]
    events = beacons(pd.DataFrame([r for r in rows if r["event_type"] != "click"],
                                  columns=PLAYER_COLUMNS))  # fmt: skip
    impressions = pd.DataFrame([json.loads(r.value) for r in records if r.topic == "impressions"])
    assert set(completed) <= set(impressions["event_id"])  # each names an impression served
    viewers = viewer_rebuffering(events, settings.audience.session_timeout_s)
    contexts = impressions.assign(invalid_reason=None)
    clicks = pd.DataFrame([r for r in rows if r["event_type"] == "click"])
    bands = ads_by_qoe_band(
        viewers, contexts, clicks, pd.Series(completed), settings.audience.rebuffer_band
    )
    print(f"\n{bands[['band', 'viewers', 'impressions', 'completion_rate']]}")
    rate = dict(zip(bands["band"], bands["completion_rate"], strict=True))
    poor, good = rate["rebuffering > 2%"], rate["rebuffering <= 2%"]
    assert 0.5 < poor < good - 0.05 < 0.95
