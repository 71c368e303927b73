"""The invalid-traffic filter: each rule and the learnt score's features on hand-built rows, then
precision and recall against the bots the simulator injects (it knows which sessions are bots):
the rules alone on the kinds they are written for, the rules and a score learnt on another slice
of traffic on every kind."""

from __future__ import annotations

import collections
import itertools
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from jobs.audience.anomaly import NO_CLICK_S, AnomalyModel, fit
from jobs.audience.ivt import invalid_viewers, rule_checked_features
from jobs.audience.metrics import PLAYER_COLUMNS, beacons
from jobs.common.config import load_settings
from jobs.simulate import simulator
from tests.jobs.audience.traffic import by_stream, learnt_score, viewer_minutes

T0 = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
M0 = pd.Timestamp(T0)
SETTINGS = load_settings()
CONF = SETTINGS.audience.invalid_traffic
TIMEOUT = 30.0
RULE_KINDS = {"datacenter", "ad_stacker", "no_player", "fast_clicker"}  # click_farm passes them


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
        ("a", M0 + pd.Timedelta(minutes=1)): "fast click",  # within the timeout of the click
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


def test_features_of_a_viewer_minute_by_hand(tmp_path):
    beats = pd.concat([heartbeats("v", range(0, 120, 10)), heartbeats("w", range(0, 120, 10))])
    impressions = [impression(1, "v", 5, ip="ip-home"), impression(2, "v", 20, ip="ip-home"),
                   impression(3, "w", 30, ip="ip-home"), impression(4, "v", 70)]  # fmt: skip
    clicks = [click("i1", "v", 7.5), click("i2", "v", 26), click("i2", "v", 26)]  # (a repeat)
    frame = rule_checked_features(impressions, clicks, beats, CONF, TIMEOUT)
    by_key = frame.set_index(["viewer_id", "minute"])
    # each over the minute's window: 30 s before it to 30 s after it
    v0 = by_key.loc[("v", M0)]
    assert (v0["impressions"], v0["clicks"], v0["fastest_click_s"]) == (3, 2, 2.5)
    assert v0["rules"] is None
    v1 = by_key.loc[("v", M0 + pd.Timedelta(minutes=1))]
    assert (v1["impressions"], v1["clicks"], v1["fastest_click_s"]) == (1, 0, NO_CLICK_S)
    assert len(frame) == 3

    model = fit(frame.iloc[[0, 0, 1, 2] * 20], flag_share=0.1, trees=20, seed=1)
    again = AnomalyModel.load(model.save(tmp_path / "m.pkl"), "ivt-model v9")
    assert again.scores(frame) == pytest.approx(model.scores(frame))
    assert again.threshold == model.threshold and again.label == "ivt-model v9"


def simulated_slice(seed: int) -> tuple[pd.DataFrame, list[tuple]]:
    """A simulated slice of traffic (about 17 minutes of 200 events/s): its viewer-minutes
    (features and the rules' verdict, `bot` from the simulator's truth), and per stream the
    rows `invalid_viewers` judges with each impression's (viewer, minute, bot, revenue)."""
    simulation = simulator(SETTINGS, start=T0, rate_per_s=200, seed=seed)
    streams = by_stream(list(itertools.islice(simulation, 200_000)))
    bots = {s.viewer_id: s.bot for s in simulation.players.sessions}
    billed = []
    for judged in streams.values():
        served = judged[0]
        minutes = pd.to_datetime(served["event_time"], utc=True).dt.floor("min")
        each = zip(served["viewer_id"], minutes, served["clearing_cpm"], strict=True)
        billed.append((judged, [(v, m, bots[v], cpm / 1000) for v, m, cpm in each]))
    found = viewer_minutes(streams, SETTINGS)
    return found.assign(bot=found["viewer_id"].map(bots)), billed


@pytest.fixture(scope="module")
def learnt():
    """The learnt score fitted on one slice's viewer-minutes the rules passed."""
    simulation = simulator(SETTINGS, start=T0, rate_per_s=200, seed=29)
    return learnt_score(by_stream(list(itertools.islice(simulation, 200_000))), SETTINGS)


def scored(streams: list[tuple], model=None) -> list[tuple]:
    """(bot kind or None, flagged, revenue) of each impression of another slice."""
    out = []
    for judged, billed in streams:
        found = invalid_viewers(*judged, CONF, TIMEOUT, model)
        out += [(bot, (viewer, minute) in found, money) for viewer, minute, bot, money in billed]
    return out


def report(scored: list[tuple], kinds: set[str]) -> tuple[float, float]:
    """Precision (flagged impressions that were any bot's) and recall over impressions of bots
    of `kinds`, printed with the revenue."""
    flagged_bots = sum(1 for bot, flagged, _ in scored if bot and flagged)
    precision = flagged_bots / sum(1 for _, flagged, _ in scored if flagged)
    found = sum(1 for bot, flagged, _ in scored if bot in kinds and flagged)
    recall = found / sum(1 for bot, _, _ in scored if bot in kinds)
    by_kind = collections.defaultdict(lambda: [0, 0])
    for bot, flagged, _ in scored:
        if bot:
            by_kind[bot][0] += flagged
            by_kind[bot][1] += 1
    revenue = sum(r for _, _, r in scored)
    people = sum(r for bot, _, r in scored if not bot)
    billed = sum(r for _, flagged, r in scored if not flagged)
    print(
        f"\n{len(scored)} impressions: precision {precision:.3f}, recall {recall:.3f} "
        f"({', '.join(sorted(kinds))}); "
        + ", ".join(f"{k} {n}/{total}" for k, (n, total) in sorted(by_kind.items()))
        + f"; revenue overstated {revenue / people - 1:+.1%} unfiltered, "
        f"{billed / people - 1:+.1%} filtered"
    )
    return precision, recall


@pytest.fixture(scope="module")
def held_out():
    return simulated_slice(seed=31)[1]


def test_the_rules_find_the_bots_they_are_written_for(held_out):
    precision, recall = report(scored(held_out), RULE_KINDS)
    assert precision >= 0.95
    assert recall >= 0.9


def test_the_rules_and_the_learnt_score_find_every_kind_of_injected_bot(held_out, learnt):
    found = scored(held_out, learnt)
    precision, recall = report(found, RULE_KINDS | {"click_farm"})
    assert precision >= 0.95
    assert recall >= 0.9
    farms = [flagged for bot, flagged, _ in found if bot == "click_farm"]
    rules_alone = [flagged for bot, flagged, _ in scored(held_out) if bot == "click_farm"]
    assert sum(farms) / len(farms) >= 0.5 > sum(rules_alone) / len(rules_alone) + 0.3
    people = sum(r for bot, _, r in found if not bot)
    billed = sum(r for _, flagged, r in found if not flagged)
    overstated = sum(r for _, _, r in found) / people - 1
    assert abs(billed / people - 1) < overstated / 5
