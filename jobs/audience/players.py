"""Simulated viewers' players: sessions that send beacons the way real players do, and the truth
the audience measured from those beacons is checked against.

A session arrives (a Poisson process whose rate keeps the viewer beacons near their share of
`simulate.rate_per_s`), sends `session_start`, and either gives up before the first frame
(`abandon_share`: `session_end` after a few seconds) or sends `play` with its startup time.
While it plays it sends a `heartbeat` every `heartbeat_s`, stalls now and then
(`rebuffer_start`, `rebuffer_end` with its length; more often on the CDNs of
`cdn_rebuffer_factor`) and switches bitrate. It ends after an exponential watch time with a
`session_end`, a fatal `error`, or nothing at all (`vanish_share`: a closed tab).

`bot_share` of the sessions are invalid traffic of a known kind (`bots`): `datacenter` plays like
a person from a data-centre network; `ad_stacker` plays and asks for far more ads than anyone
watches; `no_player` asks for ads and never plays a frame; `fast_clicker` clicks its ads sooner
than a person could; `click_farm` plays like a person from a home network, asks for a few more
ads than people see (under the rate rule) and clicks many of them a little slower than a reflex
(past the fast-click rule): no single rule catches it, only its mix of behaviour (the learnt
score, `jobs/audience/anomaly.py`). `bot_ads_per_minute` are the ads a kind asks for on top of
its share of the ad server's traffic. The truth counts people only.

A player that shows an ad to its end sends `ad_complete` with the impression's id
(`ad_seconds` after it), unless the viewer left first; most do (`ad_completion`), fewer when
playback stalls during the ad (`ad_abandon_on_stall`): so completion falls with QoE. Every beacon
carries the player's clock as `event_time` and reaches the collector up to `delivery_delay_s`
later, so Kafka sees them late and out of order.

When the simulator starts, the steady-state audience is already watching, so the first minute is
not an empty room; the beacons show each of those sessions from its first heartbeat (within
`heartbeat_s`), so measured audience reaches the truth from then on.
"""

from __future__ import annotations

import heapq
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from jobs.common.config import Catalog, PlayersConf

BITRATES_KBPS = (800, 1500, 3000, 4500, 6000)
TRUTH_KEPT = timedelta(hours=1)  # how long the truth of an ended session is kept
ERROR_CODES = ("MEDIA_ERR_DECODE", "MANIFEST_LOAD_ERROR", "FRAG_LOAD_TIMEOUT")


@dataclass
class Session:
    """One player session, and its truth: it was watching from `play_at` to `end_at`."""

    session_id: str
    viewer_id: str
    stream_id: str
    device: str
    geo: str
    cdn: str
    bitrate: int
    started_at: datetime  # session_start
    play_at: datetime | None  # first frame; None when abandoned before it
    end_at: datetime  # when the viewer left
    ending: str  # session_end | error | vanish
    rebuffer_rate_per_s: float
    switch_rate_per_s: float
    ip_hash: str
    network: str
    bot: str | None = None  # the kind of invalid traffic it is; None: a person
    # the player's state as it sends beacons
    next_heartbeat: datetime | None = None
    next_rebuffer: datetime | None = None
    next_switch: datetime | None = None
    rebuffer_until: datetime | None = None
    rebuffer_ms: int = 0
    sent_start: bool = False
    done: bool = False

    @property
    def joined(self) -> datetime:
        """When it first showed a frame (auctions and clicks measure position from it)."""
        return self.play_at or self.started_at

    def watched(self, start: datetime, end: datetime) -> float:
        """Seconds of [start, end) it was watching (the truth)."""
        if self.play_at is None:
            return 0.0
        low, high = max(start, self.play_at), min(end, self.end_at)
        return max(0.0, (high - low).total_seconds())


@dataclass(order=True)
class _Due:
    at: datetime
    order: int
    session: Session = field(compare=False)


Beacon = tuple[datetime, Session, dict]  # (player clock, session, event fields)


class Players:
    """Every session of the simulated audience, in the player clock's order.

    `beacons_until(t)` returns the beacons players sent up to `t`; `watching()` the sessions
    showing video now (the ad server serves them). Draws from its own seeded generator so the
    auctions' draws do not depend on how many beacons were sent.
    """

    def __init__(
        self,
        conf: PlayersConf,
        catalog: Catalog,
        seed: int,
        start: datetime,
        beacons_per_s: float,
    ) -> None:
        self.conf = conf
        self.catalog = catalog
        self.random = random.Random(f"players-{seed}")
        self.sessions: list[Session] = []  # the truth: sessions of the last TRUTH_KEPT
        self._watching: list[Session] = []
        self._watching_index: dict[str, int] = {}
        self.ad_hungry: list[Session] = []  # bots asking for more ads (`bot_ads_per_minute`)
        self._due: list[_Due] = []
        self._order = 0
        mean = conf.mean_session_s
        per_session = (
            mean / conf.heartbeat_s
            + 3  # start, play, end
            + (2 * conf.rebuffers_per_minute + conf.bitrate_switches_per_minute) * mean / 60
        )
        self.arrivals_per_s = max(beacons_per_s / per_session, 1e-6)
        self._stream_weights = [s.audience or 1 for s in catalog.streams]
        for _ in range(round(self.arrivals_per_s * mean)):
            self._arrive(start, already_playing=True)
        self._next_arrival = start + self._exponential(1 / self.arrivals_per_s)

    # -- what the simulator asks -----------------------------------------------------------

    def beacons_until(self, now: datetime) -> Iterator[Beacon]:
        """Arrivals and beacons up to `now`, in the players' clock order."""
        while self._next_arrival <= now:
            self._arrive(self._next_arrival)
            self._next_arrival += self._exponential(1 / self.arrivals_per_s)
            if len(self.sessions) % 10_000 == 0:
                self._forget(now - TRUTH_KEPT)
        while self._due and self._due[0].at <= now:
            due = heapq.heappop(self._due)
            beacon = self._beacon(due.session, due.at)
            if beacon is not None:
                yield beacon
            self._schedule(due.session)

    def watching(self) -> Session | None:
        """A random session asking for ads now (people showing video, bots), or None."""
        return self.random.choice(self._watching) if self._watching else None

    def ad_hungry_bot(self, per_s: float) -> Session | None:
        """A bot asking for another ad in the next 1 / `per_s` seconds (each kind asks
        `bot_ads_per_minute` of its own), or None."""
        if not self.ad_hungry:
            return None
        rates = [self.conf.bot_ads_per_minute[s.bot] / 60 for s in self.ad_hungry]
        if self.random.random() < sum(rates) / per_s:
            return self.random.choices(self.ad_hungry, weights=rates)[0]
        return None

    def ad_completed_at(self, session: Session, served: datetime, draw: float) -> datetime | None:
        """When `session` finished the ad served at `served` (`draw`: a uniform number from the
        caller's generator), or None: it never plays, left before the end, gave up when
        playback stalled during the ad (`ad_abandon_on_stall`), or skipped away."""
        conf = self.conf
        end = served + timedelta(seconds=conf.ad_seconds)
        if session.play_at is None or session.end_at < end:
            return None
        stalled = (session.rebuffer_until is not None and session.rebuffer_until > served) or (
            session.next_rebuffer is not None and session.next_rebuffer < end
        )
        chance = conf.ad_completion * (1 - conf.ad_abandon_on_stall if stalled else 1)
        return end if draw < chance else None

    def _forget(self, before: datetime) -> None:
        """Drop the truth of sessions that ended before `before` (a simulator sending for days
        would otherwise hold every session it ever played)."""
        self.sessions = [s for s in self.sessions if not s.done or s.end_at >= before]

    def delivery_delay(self) -> timedelta:
        return timedelta(seconds=self.random.uniform(0, self.conf.delivery_delay_s))

    # -- sessions --------------------------------------------------------------------------

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def _exponential(self, mean_s: float) -> timedelta:
        return timedelta(seconds=self.random.expovariate(1 / mean_s))

    def _pick(self, weights: dict[str, float]) -> str:
        return self.random.choices(list(weights), weights=list(weights.values()))[0]

    def _arrive(self, at: datetime, already_playing: bool = False) -> None:
        conf, draw = self.conf, self.random
        stream = draw.choices(self.catalog.streams, weights=self._stream_weights)[0]
        cdn = self._pick(conf.cdns)
        bot = None
        if conf.bots and draw.random() < conf.bot_share:
            bot = draw.choices(list(conf.bots), weights=list(conf.bots.values()))[0]
        device = self._pick(self.catalog.devices)
        startup = timedelta(
            milliseconds=round(conf.startup_ms_median * math.exp(draw.gauss(0, conf.startup_sigma)))
        )
        if bot == "no_player" or (not already_playing and draw.random() < conf.abandon_share):
            play_at, started_at = None, at
        elif already_playing:  # watching for a while already (exponential: as long again to go)
            play_at = at - self._exponential(conf.mean_session_s)
            started_at = play_at - startup
        else:
            play_at, started_at = at + startup, at
        if bot == "no_player":  # asks for ads for a while, never plays, never says goodbye
            end_at, ending = at + self._exponential(conf.mean_session_s / 4), "vanish"
        elif play_at is None:
            end_at, ending = at + timedelta(seconds=draw.uniform(1, 8)), "session_end"
        else:
            watch = max(self._exponential(conf.mean_session_s), timedelta(seconds=3))
            end_at = max(at, play_at) + watch
            ending = draw.choices(
                ("error", "vanish", "session_end"),
                weights=(conf.error_share, conf.vanish_share,
                         max(0.0, 1 - conf.error_share - conf.vanish_share)),
            )[0]  # fmt: skip
        session = Session(
            session_id=f"s-{self._uuid()[:16]}",
            viewer_id=f"v-{self._uuid()[:12]}",
            stream_id=stream.stream_id,
            device=device,
            geo=self._pick(self.catalog.geos),
            cdn=cdn,
            bitrate=draw.choice(BITRATES_KBPS),
            started_at=started_at,
            play_at=play_at,
            end_at=end_at,
            ending=ending,
            rebuffer_rate_per_s=conf.rebuffers_per_minute
            * conf.cdn_rebuffer_factor.get(cdn, 1.0)
            / 60,
            switch_rate_per_s=conf.bitrate_switches_per_minute / 60,
            sent_start=already_playing,
            ip_hash=f"ip-{self._uuid()[:12]}",
            network="datacenter"
            if bot == "datacenter"
            else ("mobile" if device == "mobile" else "residential"),
            bot=bot,
        )
        self.sessions.append(session)
        if bot == "no_player":
            self._serve(session)
        if already_playing and play_at is not None:  # beats in its own phase
            self._playing(session, at)
            session.next_heartbeat = at + timedelta(seconds=draw.uniform(0, conf.heartbeat_s))
        self._schedule(session)

    def _playing(self, session: Session, now: datetime) -> None:
        """`session` shows video from `now`: it beats, stalls, switches and can be served ads."""
        session.next_heartbeat = now + timedelta(seconds=self.conf.heartbeat_s)
        session.next_rebuffer = now + self._gap(session.rebuffer_rate_per_s)
        session.next_switch = now + self._gap(session.switch_rate_per_s)
        self._serve(session)

    def _serve(self, session: Session) -> None:
        """The ad server sees `session` asking for ads from now on."""
        self._watching_index[session.session_id] = len(self._watching)
        self._watching.append(session)
        if session.bot in self.conf.bot_ads_per_minute:
            self.ad_hungry.append(session)

    def _gap(self, rate_per_s: float) -> timedelta:
        if rate_per_s <= 0:
            return timedelta(days=3650)
        return self._exponential(1 / rate_per_s)

    def _stop_watching(self, session: Session) -> None:
        index = self._watching_index.pop(session.session_id, None)
        if index is None:  # never served (left before its first frame)
            return
        if session.bot in self.conf.bot_ads_per_minute:
            self.ad_hungry.remove(session)
        last = self._watching.pop()
        if last is not session:
            self._watching[index] = last
            self._watching_index[last.session_id] = index

    def _next_beacon_time(self, session: Session) -> datetime | None:
        if session.done:
            return None
        if not session.sent_start:
            return session.started_at
        if session.play_at is None or session.next_heartbeat is None:
            # abandoned (its end is next), or waiting for its first frame
            return session.end_at if session.play_at is None else session.play_at
        candidates = [session.next_heartbeat, session.next_rebuffer, session.next_switch]
        if session.rebuffer_until is not None:
            candidates.append(session.rebuffer_until)
        upcoming = min(candidates)
        return upcoming if upcoming < session.end_at else session.end_at

    def _schedule(self, session: Session) -> None:
        at = self._next_beacon_time(session)
        if at is None:
            return
        self._order += 1
        heapq.heappush(self._due, _Due(at, self._order, session))

    def _beacon(self, session: Session, at: datetime) -> Beacon | None:
        """The beacon `session` sends at `at`, its state moved past it (None: it sends none)."""
        conf, draw = self.conf, self.random
        fields: dict = {}
        if not session.sent_start:
            session.sent_start = True
            kind = "session_start"
        elif session.play_at is not None and session.next_heartbeat is None:
            kind, fields["startup_ms"] = "play", _ms(session.play_at - session.started_at)
            self._playing(session, at)
        elif at >= session.end_at:
            session.done = True
            self._stop_watching(session)
            if session.ending == "vanish":
                return None
            kind = session.ending
            if kind == "error":
                fields["error_code"] = draw.choice(ERROR_CODES)
        elif session.rebuffer_until is not None and at == session.rebuffer_until:
            kind, fields["rebuffer_ms"] = "rebuffer_end", session.rebuffer_ms
            session.rebuffer_until = None
        elif at == session.next_heartbeat:
            kind = "heartbeat"
            session.next_heartbeat = at + timedelta(seconds=conf.heartbeat_s)
        elif at == session.next_rebuffer:
            kind = "rebuffer_start"
            stall = conf.rebuffer_ms_median * math.exp(draw.gauss(0, 0.7))
            session.rebuffer_ms = round(stall)
            session.rebuffer_until = at + timedelta(milliseconds=session.rebuffer_ms)
            session.next_rebuffer = session.rebuffer_until + self._gap(session.rebuffer_rate_per_s)
            session.bitrate = draw.choice(BITRATES_KBPS[:3])  # stalls push the ladder down
        else:  # the bitrate switch
            kind = "bitrate_switch"
            session.bitrate = draw.choice([b for b in BITRATES_KBPS if b != session.bitrate])
            session.next_switch = at + self._gap(session.switch_rate_per_s)
        position = (at - session.play_at).total_seconds() if session.play_at else 0.0
        return (
            at,
            session,
            {
                "event_id": self._uuid(),
                "event_type": kind,
                "position_s": round(max(0.0, position), 3),
                **fields,
            },
        )


def _ms(span: timedelta) -> int:
    return round(span.total_seconds() * 1000)


def concurrent_viewers(sessions: list[Session], stream_id: str, minute: datetime) -> float:
    """The truth: the stream's mean concurrent viewers (people, not bots) over the minute
    (watched seconds / 60)."""
    end = minute + timedelta(minutes=1)
    people = (s for s in sessions if s.stream_id == stream_id and s.bot is None)
    return sum(s.watched(minute, end) for s in people) / 60
