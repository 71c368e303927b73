"""Live state in Redis: what the dashboard shows now, written idempotently.

Keys (all expire after `jobs.frame_analysis.redis_ttl_s` without updates):

- `brandlake:live:<stream_id>` (hash), by frame_analysis: the latest analysed frame of the stream:
  `frame_time` (ISO 8601, UTC), `frame_epoch_ms`, `segment_id`, `sequence`, `brands` (JSON list
  of the brand ids on screen), `person_count`, `scene_label`, `safety_score`, `models`,
  `updated_at`.

A write carries its frame time and lands only if it is newer than the stored one, so replayed
or out-of-order batches never move the state backwards and a replay writes nothing twice.

By exposure_revenue, set from the gold tables after each batch (so a replayed batch writes the
same values, never adds twice), each replaced whole in one transaction:

- `brandlake:exposure:<stream_id>` (hash): brand id -> screen seconds over the last
  `jobs.exposure_revenue.live_window_minutes` minutes up to `_until` (the newest minute, ISO);
  `_batch_id`: the exposure_revenue micro-batch that wrote it.
- `brandlake:mentions:<stream_id>` (hash): brand id -> JSON {text_mentions, text_seconds,
  speech_mentions} over the same window, from `gold.brand_mentions_minute`; `_until`.
- `brandlake:revenue:<stream_id>` (hash): `minute` (ISO), `revenue` in that newest minute.
- `brandlake:audience:<stream_id>` (hash): `minute` (ISO), `viewers` (mean concurrent), `peak`
  and `unique_viewers` of the newest minute whose beacons are all in (the one before the newest
  minute with beacons, which is still filling).
"""

from __future__ import annotations

import json
from functools import lru_cache

from jobs.common.config import Settings

LIVE_KEY = "brandlake:live:{stream_id}"
EXPOSURE_KEY = "brandlake:exposure:{stream_id}"
MENTIONS_KEY = "brandlake:mentions:{stream_id}"
REVENUE_KEY = "brandlake:revenue:{stream_id}"
AUDIENCE_KEY = "brandlake:audience:{stream_id}"

# KEYS[1]: the hash; ARGV[1]: frame_epoch_ms; ARGV[2]: ttl seconds; ARGV[3..]: field, value, ...
_SET_IF_NEWER = """
local stored = tonumber(redis.call('HGET', KEYS[1], 'frame_epoch_ms') or '-1')
if tonumber(ARGV[1]) > stored then
  redis.call('HSET', KEYS[1], 'frame_epoch_ms', ARGV[1], unpack(ARGV, 3))
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return tonumber(ARGV[1]) > stored and 1 or 0
"""


class RedisUnavailableError(RuntimeError):
    """Redis's address is not known or it cannot be reached; the message says what to run."""


def redis_url(settings: Settings) -> str:
    """`redis://host:port/0` of the configured Redis; `embedded` must have been resolved by the
    entry point (`infra.local.services.resolve`)."""
    if settings.redis.url == "embedded":
        raise RedisUnavailableError(
            "the embedded Redis is not running, so its address is not known: run "
            "`brandlake services up` (or set redis.url)"
        )
    return settings.redis.url


@lru_cache(maxsize=4)
def redis_client(url: str):
    """One client per Redis URL and process (strings decoded)."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=10, decode_responses=True)


def set_if_newer(url: str, key: str, epoch_ms: int, fields: dict[str, str], ttl_s: int) -> bool:
    """Write `fields` to hash `key` unless it already holds a frame at or after `epoch_ms`."""
    client = redis_client(url)
    script = client.register_script(_SET_IF_NEWER)
    flat = [item for pair in fields.items() for item in pair]
    return bool(script(keys=[key], args=[epoch_ms, ttl_s, *flat]))


def set_live_exposure(url: str, stream_id: str, live: dict, ttl_s: int) -> None:
    """Replace a stream's rolling exposure, last-minute revenue and audience (see the module
    docstring)."""
    exposure = {brand: f"{seconds:.3f}" for brand, seconds in live["screen_seconds"].items()}
    if live["exposure_until"] is not None:
        exposure["_until"] = live["exposure_until"].isoformat()
        exposure["_batch_id"] = str(live["batch_id"])
    mentions = {brand: json.dumps(counts) for brand, counts in live["mentions"].items()}
    if live["mentions_until"] is not None:
        mentions["_until"] = live["mentions_until"].isoformat()
    revenue = {"revenue": f"{live['revenue_last_minute']:.6f}"}
    if live["revenue_minute"] is not None:
        revenue["minute"] = live["revenue_minute"].isoformat()
    audience = live.get("audience") or {}
    if audience:
        audience = {
            "minute": audience["minute"].isoformat(),
            "viewers": f"{audience['avg_concurrent_viewers']:.3f}",
            "peak": str(audience["peak_concurrent_viewers"]),
            "unique_viewers": str(audience["unique_viewers"]),
        }
    pipe = redis_client(url).pipeline(transaction=True)
    for key, fields in (
        (EXPOSURE_KEY.format(stream_id=stream_id), exposure),
        (MENTIONS_KEY.format(stream_id=stream_id), mentions),
        (REVENUE_KEY.format(stream_id=stream_id), revenue),
        (AUDIENCE_KEY.format(stream_id=stream_id), audience),
    ):
        pipe.delete(key)
        if fields:
            pipe.hset(key, mapping=fields)
            pipe.expire(key, ttl_s)
    pipe.execute()
