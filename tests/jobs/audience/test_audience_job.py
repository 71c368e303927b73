"""Simulated players and ads through the real broker, exposure_revenue (Spark), Delta and Redis:
the audience in gold, invalid traffic left out, is the simulator's truth within 1 %, and the rows
add up."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from jobs.audience.players import concurrent_viewers
from jobs.exposure_revenue import run
from jobs.simulate import simulator
from tests.support import isolated, produce, read_table

pytestmark = [pytest.mark.spark, pytest.mark.services]
START = datetime(2026, 3, 1, 20, 0, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def audience_run(stack, spark, tmp_path_factory):
    settings = isolated(stack, tmp_path_factory.mktemp("audience"))
    # about 3 minutes of 1,000 viewers (at 60, one click bot left in was 1.1 % of a stream)
    simulation = simulator(settings, start=START, rate_per_s=150, seed=17, bad_ratio=0.0)
    records = list(itertools.islice(simulation, 40_000))
    viewer_events = [r.value for r in records if r.topic == "viewer_events"]
    produce(settings, "viewer_events", viewer_events)
    # the ads too: the invalid-traffic rules judge viewers by them
    produce(settings, "impressions", [r.value for r in records if r.topic == "impressions"])
    run(settings, available_now=True)
    return settings, simulation, len(viewer_events)


def test_concurrent_viewers_per_minute_match_the_simulators_truth(audience_run):
    settings, simulation, _ = audience_run
    rows = read_table(settings, "gold.audience_minute").to_pylist()
    settled = simulation.clock.replace(second=0, microsecond=0) - timedelta(minutes=1)
    compared = []
    for row in rows:
        if START < row["minute"] <= settled:  # whole minutes after the first heartbeats
            truth = concurrent_viewers(simulation.players.sessions, row["stream_id"], row["minute"])
            assert row["avg_concurrent_viewers"] == pytest.approx(truth, rel=0.01), row
            compared.append(row)
    assert len(compared) >= 2 * len(settings.catalog.streams)
    for row in compared:
        assert row["peak_concurrent_viewers"] >= row["avg_concurrent_viewers"]
        assert row["unique_viewers"] >= row["peak_concurrent_viewers"]


def test_every_beacon_lands_once_and_qoe_covers_the_watched_seconds(audience_run):
    settings, _, sent = audience_run
    beacons = read_table(settings, "silver.player_events")
    clicks = read_table(settings, "silver.clicks")
    assert beacons.num_rows + clicks.num_rows == sent
    assert len(set(beacons.column("event_id").to_pylist())) == beacons.num_rows
    audience = read_table(settings, "gold.audience_minute").to_pandas()
    qoe = read_table(settings, "gold.qoe_minute").to_pandas()
    watched = qoe.groupby(["stream_id", "minute"])["watched_seconds"].sum()
    per_minute = audience.set_index(["stream_id", "minute"])["viewer_seconds"]
    assert watched.reindex(per_minute.index).fillna(0).to_numpy() == pytest.approx(
        per_minute.to_numpy()
    )
    assert (qoe["rebuffer_ratio"].between(0, 1)).all()
    assert qoe["startup_p95_ms"].dropna().ge(qoe["startup_p50_ms"].dropna()).all()
