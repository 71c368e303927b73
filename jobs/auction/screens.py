"""What each stream shows when an ad is auctioned: simulated, or live from frame_analysis."""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from jobs.auction.market import Screen
from jobs.common.config import Catalog
from jobs.common.live_state import LIVE_KEY, redis_client


class Screens(Protocol):
    def screen(self, stream_id: str, at: datetime) -> Screen: ...


# Seconds a brand stays on screen / off screen, and a stream stays safe / unsafe, on average.
_BRAND_ON_S, _BRAND_OFF_S = 12.0, 30.0
_SAFE_S, _UNSAFE_S = 300.0, 45.0
_SAFE_SCORE, _UNSAFE_SCORE = 0.93, 0.3


@dataclass
class _StreamState:
    at: datetime
    showing: dict[str, bool] = field(default_factory=dict)
    unsafe: bool = False


class SimulatedScreens:
    """Each brand comes and goes on each stream (exponential on/off spells), the scene is the
    stream's catalog `scene`, and now and then a stream turns unsafe for a while. Seeded."""

    def __init__(self, catalog: Catalog, seed: int) -> None:
        self.random = random.Random(seed)
        self.scenes = {s.stream_id: s.scene for s in catalog.streams}
        self.brands = [b.brand_id for b in catalog.brands]
        self.states: dict[str, _StreamState] = {}

    def screen(self, stream_id: str, at: datetime) -> Screen:
        state = self.states.get(stream_id)
        if state is None:
            state = self.states[stream_id] = _StreamState(
                at, {b: self.random.random() < 0.3 for b in self.brands}
            )
        elapsed = max(0.0, (at - state.at).total_seconds())
        state.at = max(at, state.at)
        for brand, on in state.showing.items():
            if self._flips(elapsed, _BRAND_ON_S if on else _BRAND_OFF_S):
                state.showing[brand] = not on
        if self._flips(elapsed, _UNSAFE_S if state.unsafe else _SAFE_S):
            state.unsafe = not state.unsafe
        return Screen(
            brands=tuple(b for b, on in state.showing.items() if on),
            scene=self.scenes.get(stream_id, "other"),
            safety=_UNSAFE_SCORE if state.unsafe else _SAFE_SCORE,
        )

    def _flips(self, elapsed: float, mean_s: float) -> bool:
        return self.random.random() < 1 - math.exp(-elapsed / mean_s)


class LiveScreens:
    """The latest analysed frame of each stream, from frame_analysis' Redis state
    (`brandlake:live:<stream_id>`), reread at most once per `refresh_s` per stream."""

    def __init__(self, redis_url: str, refresh_s: float = 1.0) -> None:
        self.client = redis_client(redis_url)
        self.refresh_s = refresh_s
        self.cache: dict[str, tuple[float, Screen]] = {}

    def screen(self, stream_id: str, at: datetime) -> Screen:
        now = time.monotonic()
        cached = self.cache.get(stream_id)
        if cached is None or now - cached[0] >= self.refresh_s:
            live = self.client.hgetall(LIVE_KEY.format(stream_id=stream_id))
            cached = self.cache[stream_id] = (now, screen_from_live(live))
        return cached[1]


def screen_from_live(fields: dict[str, str]) -> Screen:
    """A stream's live hash as a Screen (empty when the stream has no live state)."""
    if not fields:
        return Screen()
    safety = fields.get("safety_score")
    return Screen(
        brands=tuple(json.loads(fields.get("brands") or "[]")),
        scene=fields.get("scene_label") or None,
        safety=float(safety) if safety else None,
    )
