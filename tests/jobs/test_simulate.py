"""The simulator: deterministic, schema-valid traffic, and malformed records of known kinds."""

from __future__ import annotations

import itertools
import json
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
    records = take(settings, 5000, bad_ratio=0.0)
    streams = {s.stream_id for s in settings.catalog.streams}
    campaigns = {c.campaign_id: c for c in settings.catalog.campaigns}
    topics = Counter(r.topic for r in records)
    assert 0.25 < topics["impressions"] / len(records) < 0.45
    for record in records:
        event, reasons = EVENT_SCHEMAS[record.topic].parse(record.value)
        assert reasons == [], (record, reasons)
        assert event["stream_id"] in streams
        if record.topic == "impressions":
            campaign = campaigns[event["campaign_id"]]
            assert event["brand_id"] == campaign.brand_id
            assert campaign.floor_cpm <= event["clearing_cpm"] <= event["bid_cpm"]
    clicks = [json.loads(r.value) for r in records if b'"click"' in r.value]
    assert clicks and all(c["campaign_id"] in campaigns for c in clicks)


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
