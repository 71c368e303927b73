"""The simulator: deterministic, schema-valid traffic (auctions, the impressions and clicks
they lead to, viewer events), and malformed records of known kinds."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime

from jobs.common.config import load_settings
from jobs.simulate import BAD_KINDS, simulator
from schemas.events import EVENT_SCHEMAS

START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def take(settings, n, **overrides):
    return list(itertools.islice(simulator(settings, start=START, **overrides), n))


def test_same_seed_same_records():
    settings = load_settings()
    first = take(settings, 500, seed=3)
    again = take(settings, 500, seed=3)
    other = take(settings, 500, seed=4)
    assert [r.value for r in first] == [r.value for r in again]
    assert [r.value for r in first] != [r.value for r in other]


def test_valid_records_pass_their_schema_and_use_the_catalog():
    settings = load_settings()
    records = take(settings, 20_000, bad_ratio=0.0)
    streams = {s.stream_id for s in settings.catalog.streams}
    campaigns = {c.campaign_id: c for c in settings.catalog.campaigns}
    topics = Counter(r.topic for r in records)
    assert 0.25 < topics["auctions"] / len(records) < 0.45
    events = {topic: [] for topic in topics}
    for record in records:
        event, reasons = EVENT_SCHEMAS[record.topic].parse(record.value)
        assert reasons == [], (record, reasons)
        assert event["stream_id"] in streams
        events[record.topic].append(event)
    auctions = {a["event_id"]: a for a in events["auctions"]}
    filled = [a for a in auctions.values() if a["filled"]]
    assert 0.3 < len(filled) / len(auctions) < 0.95
    assert 0.05 < sum(a["arm"] == "holdout" for a in auctions.values()) / len(auctions) < 0.15
    # No floors published: every auction keeps its top bidder's static campaign floor.
    for auction in filled:
        campaign = campaigns[auction["top_campaign_id"]]
        assert auction["floor_rule"] == "static" and auction["floor_cpm"] == campaign.floor_cpm
        assert campaign.floor_cpm <= auction["clearing_cpm"] <= auction["top_bid_cpm"]
    # Every impression is a filled auction's, with its winner and price.
    assert len(events["impressions"]) == len(filled)
    for impression in events["impressions"]:
        auction = auctions[impression["event_id"]]
        assert impression["campaign_id"] == auction["top_campaign_id"]
        assert impression["clearing_cpm"] == auction["clearing_cpm"]
        assert impression["brand_id"] == campaigns[impression["campaign_id"]].brand_id
    # Clicks follow a filled auction of the same viewer and campaign, within seconds.
    served = {}
    for auction in filled:
        served.setdefault((auction["viewer_id"], auction["top_campaign_id"]), []).append(auction)
    clicks = [e for e in events["viewer_events"] if e["event_type"] == "click"]
    assert clicks
    for click in clicks:
        shown = served[(click["viewer_id"], click["campaign_id"])]
        assert any(0 < (click["event_time"] - a["event_time"]).total_seconds() < 12 for a in shown)


def test_bad_records_fail_validation_with_their_kind():
    settings = load_settings()
    records = take(settings, 4000, bad_ratio=0.1)
    bad = [r for r in records if r.bad_kind]
    assert 300 < len(bad) < 500
    assert {r.bad_kind for r in bad} == set(BAD_KINDS)
    for record in bad:
        _, reasons = EVENT_SCHEMAS[record.topic].parse(record.value)
        assert reasons, record
    for record in records:
        if not record.bad_kind:
            assert EVENT_SCHEMAS[record.topic].parse(record.value)[1] == []
