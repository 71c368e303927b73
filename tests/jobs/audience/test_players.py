"""The simulated players against the audience measured from their beacons: the measurement
finds the concurrency the simulator knows to be true."""

from __future__ import annotations

import collections
import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest

from jobs.audience.ivt import invalid_viewers
from jobs.audience.metrics import audience_minutes, watch_intervals
from jobs.audience.players import concurrent_viewers
from jobs.common.config import load_settings
from jobs.simulate import simulator
from schemas.events import VIEWER_EVENTS
from tests.jobs.audience.traffic import by_stream, learnt_score

START = datetime(2026, 3, 1, 19, 59, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def simulated():
    settings = load_settings()
    simulation = simulator(settings, start=START, rate_per_s=200, seed=3)
    records = list(itertools.islice(simulation, 60_000))
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
    # click farms pass every rule: the learnt score (fitted on the same traffic) finds them
    model = learnt_score(streams, settings)
    last_full_minute = simulation.clock.replace(second=0, microsecond=0) - timedelta(minutes=1)
    minutes = [START.replace(second=0) + timedelta(minutes=i) for i in range(1, 4)]
    assert minutes[-1] <= last_full_minute
    compared = 0
    for stream, (served, clicks, of_stream) in streams.items():
        spans = watch_intervals(of_stream, timeout)
        flags = invalid_viewers(
            served, clicks, of_stream, settings.audience.invalid_traffic, timeout, model
        )
        for row in audience_minutes(stream, of_stream, spans, minutes, timeout, flags):
            truth = concurrent_viewers(simulation.players.sessions, stream, row["minute"])
            assert row["avg_concurrent_viewers"] == pytest.approx(truth, rel=0.01), row
            compared += 1
    assert compared == 3 * len(settings.catalog.streams)
