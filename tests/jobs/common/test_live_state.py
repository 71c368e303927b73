"""Live state in the real Redis: a stream's frame never moves backwards."""

from __future__ import annotations

import uuid

import redis

from jobs.common.live_state import LIVE_KEY, set_if_newer


def test_set_if_newer_never_moves_a_stream_back(stack):
    url = stack.redis.url
    key = LIVE_KEY.format(stream_id=f"test-{uuid.uuid4().hex[:8]}")
    client = redis.Redis.from_url(url, decode_responses=True)
    assert set_if_newer(url, key, 2_000, {"sequence": "2"}, ttl_s=60) is True
    assert set_if_newer(url, key, 1_000, {"sequence": "1"}, ttl_s=60) is False  # older
    assert set_if_newer(url, key, 2_000, {"sequence": "2b"}, ttl_s=60) is False  # a replay
    assert client.hgetall(key) == {"frame_epoch_ms": "2000", "sequence": "2"}
    assert set_if_newer(url, key, 3_000, {"sequence": "3"}, ttl_s=60) is True
    assert client.hget(key, "sequence") == "3"
    assert 0 < client.ttl(key) <= 60
