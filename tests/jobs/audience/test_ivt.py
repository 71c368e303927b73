"""The invalid-traffic filter: each rule on hand-built rows, then precision and recall against
the bots the simulator injects (it knows which sessions are bots)."""

from __future__ import annotations

import collections
import itertools
import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from jobs.audience.ivt import invalid_viewers
from jobs.audience.metrics import PLAYER_COLUMNS, beacons
from jobs.common.config import load_settings
from jobs.simulate import simulator

T0 = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
M0 = pd.Timestamp(T0)
CONF = load_settings().audience.invalid_traffic
TIMEOUT = 30.0


def impression(n: int, viewer: str, second: float, ip: str | None = None, network="residential"):
    return {"event_id": f"i{n}", "event_time": T0 + timedelta(seconds=second), "viewer_id": viewer,
            "ip_hash": ip or f"ip-{viewer}", "network": network}  # fmt: skip


def click(impression_id: str, viewer: str, second: float) -> dict:
    at = T0 + timedelta(seconds=second)
    return {"event_id": f"c-{impression_id}", "event_time": at, "viewer_id": viewer,
            "impression_id": impression_id, "network": "residential"}  # fmt: skip


def heartbeats(viewer: str, seconds) -> pd.DataFrame:
    rows = []
    for second in seconds:
        row = dict.fromkeys(PLAYER_COLUMNS)
        row.update(event_id=f"{viewer}-{second}", event_time=T0 + timedelta(seconds=second),
                   stream_id="s", viewer_id=viewer, session_id=viewer, event_type="heartbeat",
                   position_s=float(second), network="residential")  # fmt: skip
        rows.append(row)
    return beacons(pd.DataFrame(rows, columns=PLAYER_COLUMNS))


def test_times_from_arrow_and_from_python_join():
    players = heartbeats("person", range(0, 120, 10))
    players["event_time"] = players["event_time"].dt.as_unit("us")  # as Delta gives them
    assert flags([impression(1, "person", 15)], (), players) == {}


def flags(impressions, clicks=(), players=None):
    players = players if players is not None else heartbeats("person", range(0, 120, 10))
    return invalid_viewers(list(impressions), list(clicks), players, CONF, TIMEOUT)


def test_a_person_watching_is_valid():
    assert flags([impression(1, "person", 15)], [click("i1", "person", 21)]) == {}


def test_each_rule_flags_the_viewer_in_that_minute_with_its_reason():
    many = CONF.max_impressions_per_viewer_minute + 1
    beats = pd.concat([heartbeats(v, range(0, 120, 10)) for v in ("person", "stacker", "a", "b")])
    found = flags(
        [
            impression(0, "person", 5, network="datacenter"),
            *(impression(10 + n, "stacker", 62 + n) for n in range(many)),
            impression(50, "ghost", 30),  # no beacon from its player, others beat
            impression(60, "a", 40),
            impression(61, "b", 70),
        ],
        [click("i60", "a", 40.4), click("i61", "b", 75)],
        beats,
    )
    assert found == {
        ("person", M0): "network",
        ("stacker", M0 + pd.Timedelta(minutes=1)): "viewer rate",
        ("ghost", M0): "no player",
        ("a", M0): "fast click",
    }


def test_an_ip_serving_more_impressions_than_people_watch_flags_every_viewer_behind_it():
    crowd = CONF.max_impressions_per_ip_minute + 1
    viewers = [f"v{n % 20}" for n in range(crowd)]
    beats = pd.concat([heartbeats(v, range(0, 60, 10)) for v in set(viewers)])
    impressions = [impression(n, v, 1 + n * 0.5, ip="ip-farm") for n, v in enumerate(viewers)]
    assert flags(impressions, (), beats) == {(v, M0): "ip rate" for v in set(viewers)}


def test_a_stream_whose_players_send_no_beacons_is_not_judged_on_them():
    no_beacons = beacons(pd.DataFrame([], columns=PLAYER_COLUMNS))
    assert flags([impression(1, "v", 5)], (), no_beacons) == {}


@pytest.fixture(scope="module")
def scored():
    """Impressions of a simulated hour slice, each with whether a bot got it and the flag."""
    settings = load_settings()
    simulation = simulator(settings, start=T0, rate_per_s=200, seed=29)
    records = list(itertools.islice(simulation, 80_000))
    bots = {s.viewer_id: s.bot for s in simulation.players.sessions}
    rows = [json.loads(r.value) for r in records if r.topic == "viewer_events"]
    players = pd.DataFrame([r for r in rows if r["event_type"] != "click"], columns=PLAYER_COLUMNS)
    clicks = pd.DataFrame([r for r in rows if r["event_type"] == "click"])
    impressions = pd.DataFrame([json.loads(r.value) for r in records if r.topic == "impressions"])
    scored = []
    for stream, served in impressions.groupby("stream_id"):
        found = invalid_viewers(
            served, clicks[clicks["stream_id"] == stream],
            beacons(players[players["stream_id"] == stream]), settings.audience.invalid_traffic,
            settings.audience.session_timeout_s,
        )  # fmt: skip
        minutes = pd.to_datetime(served["event_time"], utc=True).dt.floor("min")
        for viewer, minute, cpm in zip(served["viewer_id"], minutes, served["clearing_cpm"],
                                       strict=True):  # fmt: skip
            scored.append((bots[viewer], (viewer, minute) in found, cpm / 1000))
    return scored


def test_the_filter_finds_the_injected_bots(scored):
    flagged_bots = sum(1 for bot, flagged, _ in scored if bot and flagged)
    precision = flagged_bots / sum(1 for _, flagged, _ in scored if flagged)
    recall = flagged_bots / sum(1 for bot, _, _ in scored if bot)
    by_kind = collections.defaultdict(lambda: [0, 0])
    for bot, flagged, _ in scored:
        if bot:
            by_kind[bot][0] += flagged
            by_kind[bot][1] += 1
    revenue = sum(r for _, _, r in scored)
    people = sum(r for bot, _, r in scored if not bot)
    billed = sum(r for _, flagged, r in scored if not flagged)
    print(
        f"\nIVT on {len(scored)} impressions: precision {precision:.3f}, recall {recall:.3f}; "
        + ", ".join(f"{k} {n}/{total}" for k, (n, total) in sorted(by_kind.items()))
        + f"; revenue overstated {revenue / people - 1:+.1%} unfiltered, "
        f"{billed / people - 1:+.1%} filtered"
    )
    assert precision >= 0.95
    assert recall >= 0.9
    assert abs(billed / people - 1) < abs(revenue / people - 1) / 5
