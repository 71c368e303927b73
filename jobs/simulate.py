"""simulate: ad auctions, impressions, clicks and viewer events for the catalog's streams, into
Kafka: the ad server and its market.

    brandlake simulate --count 100000 [--rate 2000] [--seed 7] [--bad-ratio 0.01]
        [--set simulate.market.bidder_behaviour=shading] [--set simulate.screen=live]

Viewers watch the catalog's streams in proportion to their audience: each session's player sends the
beacons real players send (start, first frame with its startup time, heartbeats, stalls, bitrate
switches, end or error, or nothing when a tab closes; `jobs/audience/players.py`), late and out of
order as a collector receives them. Each ad opportunity is a second-price auction among the
catalog's campaigns (`jobs/auction/market.py`) with the floor as a lazy reserve: the floors
published in Redis (`brandlake:floors`, by `brandlake yield`) for the treatment arm, the static
campaign floors for the holdout (`yield_optimization.holdout_share`, a stable hash of the auction
id) and before any are published. Every auction goes to `auctions`; a filled one is also an
impression (its event id is the auction id) and, with the hidden true click probability, a click a
few seconds later. What is on screen comes from `simulate.screen`: simulated per stream, or
frame_analysis' live state. Event times follow the configured rate (real time when paced).
`--bad-ratio` replaces that share of records with malformed ones of known kinds, so quarantine can
be checked. Deterministic for a seed (with simulated screens and the floors fixed).
"""

from __future__ import annotations

import argparse
import heapq
import json
import logging
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from jobs.auction.floor_rules import FloorPolicy, FloorRules, RedisFloors
from jobs.auction.market import (
    ConstantCtr,
    CtrPredictor,
    Market,
    Opportunity,
    Outcome,
    arm_of,
    second_price,
    true_ctr,
)
from jobs.auction.screens import LiveScreens, Screens, SimulatedScreens
from jobs.audience.players import Players, Session
from jobs.common.config import Settings, add_set_option, parse_overrides
from jobs.common.kafka import check_broker, client_config, flush, producer
from jobs.common.live_state import redis_url
from jobs.entrypoint import command_settings

log = logging.getLogger("brandlake.simulate")

BAD_KINDS = (
    "not_json",
    "not_utf8",
    "not_an_object",
    "missing_field",
    "wrong_type",
    "unknown_enum",
    "negative_price",
    "filled_under_floor",  # auctions only; other records get negative_price instead
)
TOPICS = ("impressions", "viewer_events", "auctions")
FAST_CLICKS = 0.9  # the share of its ads a click bot clicks
FARM_CLICKS = 0.3  # the share of its ads a click farm clicks, 1.5-4 s after they show


@dataclass(frozen=True)
class SimulatedRecord:
    topic: str  # key of `kafka.topics`: impressions | viewer_events | auctions
    key: bytes
    value: bytes
    bad_kind: str | None = None


@dataclass(order=True)
class _Due:
    at: datetime
    order: int
    record: SimulatedRecord = field(compare=False)


class EventSimulator:
    """An endless, seeded sequence of auctions, impressions and viewer events (some malformed
    on request); see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        seed: int,
        rate_per_s: float,
        bad_ratio: float = 0.0,
        start: datetime | None = None,
        screens: Screens | None = None,
        floors: Callable[[], FloorRules | None] = lambda: None,
        ctr: CtrPredictor | None = None,
    ) -> None:
        catalog = settings.catalog
        conf = settings.simulate
        self.catalog = catalog
        self.random = random.Random(seed)
        self.spacing = (
            timedelta(seconds=1 / rate_per_s) if rate_per_s else timedelta(milliseconds=1)
        )
        self.impression_share = conf.impression_share
        self.clicks = conf.clicks
        self.yield_conf = settings.yield_optimization
        self.bad_ratio = bad_ratio
        self.clock = start or datetime.now(UTC)
        self.ticks_per_s = 1 / self.spacing.total_seconds()
        self.players = Players(
            conf.players, catalog, seed, self.clock,
            beacons_per_s=(1 - self.impression_share) * self.ticks_per_s,
        )  # fmt: skip
        self.screens = screens or SimulatedScreens(catalog, seed)
        self.floors = floors
        self.ctr = ctr or ConstantCtr(conf.clicks.base_ctr)
        self.market = Market(
            catalog.campaigns, conf.market, self.yield_conf.safety_bands[0], self.random
        )
        self.due: list[_Due] = []  # beacons and clicks, sent when the clock reaches them
        self.scheduled = 0  # records ever scheduled: orders those due at the same time

    def __iter__(self) -> Iterator[SimulatedRecord]:
        while True:
            self.clock += self.spacing
            for at, session, fields in self.players.beacons_until(self.clock):
                beacon = self._viewer_event(session, at, **fields)
                self._send_at(at + self.players.delivery_delay(), beacon)
            while self.due and self.due[0].at <= self.clock:
                yield self._maybe_corrupt(heapq.heappop(self.due).record)
            sessions = [self.players.ad_hungry_bot(self.ticks_per_s)]
            if self.random.random() < self.impression_share:
                sessions.append(self.players.watching())
            for session in filter(None, sessions):
                for record in self._auction(session):
                    yield self._maybe_corrupt(record)

    def _send_at(self, at: datetime, record: SimulatedRecord) -> None:
        self.scheduled += 1
        heapq.heappush(self.due, _Due(at, self.scheduled, record))

    def _maybe_corrupt(self, record: SimulatedRecord) -> SimulatedRecord:
        if self.bad_ratio and self.random.random() < self.bad_ratio:
            return self._corrupt(record)
        return record

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def _pick(self, weights: dict[str, float]) -> str:
        return self.random.choices(list(weights), weights=list(weights.values()))[0]

    def _served_at(self) -> datetime:
        # Ad servers log late and out of order: up to 2 s before the clock.
        return self.clock + timedelta(milliseconds=self.random.uniform(-2000, 0))

    def _auction(self, viewer: Session) -> list[SimulatedRecord]:
        """One ad opportunity: the auction record, and the impression and maybe a click (due
        later) when it fills."""
        opportunity = Opportunity(
            auction_id=self._uuid(),
            time=self.clock,
            stream_id=viewer.stream_id,
            viewer_id=viewer.viewer_id,
            slot_type=self._pick(self.catalog.slot_types),
            device=viewer.device,
            geo=viewer.geo,
            screen=self.screens.screen(viewer.stream_id, self.clock),
        )
        arm = arm_of(opportunity.auction_id, self.yield_conf.holdout_share)
        floor_of = FloorPolicy(self.floors(), self.yield_conf.safety_bands).floor_of(
            arm, opportunity
        )
        outcome = second_price(self.market.bids(opportunity, floor_of, self.ctr.predict), floor_of)
        served = self._served_at()
        event_time = _iso(served)
        key = viewer.stream_id.encode()
        records = [SimulatedRecord("auctions", key, _json(self._auction_event(
            opportunity, arm, outcome, event_time)))]  # fmt: skip
        winner = outcome.winner
        if winner is None:
            return records
        campaign = winner.campaign
        impression = {
            "event_id": opportunity.auction_id,
            "event_time": event_time,
            "stream_id": viewer.stream_id,
            "viewer_id": viewer.viewer_id,
            "campaign_id": campaign.campaign_id,
            "advertiser_id": campaign.advertiser_id,
            "brand_id": campaign.brand_id,
            "slot_type": opportunity.slot_type,
            "bid_cpm": winner.ecpm,
            "clearing_cpm": outcome.clearing_cpm,
            "currency": self.catalog.rate_card.currency,
            "device": viewer.device,
            "geo": viewer.geo,
            "ip_hash": viewer.ip_hash,
            "network": viewer.network,
        }
        records.append(SimulatedRecord("impressions", key, _json(impression)))
        if viewer.bot == "fast_clicker" and self.random.random() < FAST_CLICKS:
            at = served + timedelta(seconds=self.random.uniform(0.1, 0.6))
        elif viewer.bot == "click_farm" and self.random.random() < FARM_CLICKS:
            at = served + timedelta(seconds=self.random.uniform(1.5, 4))
        elif self.random.random() < true_ctr(self.clicks, opportunity, campaign):
            at = self.clock + timedelta(seconds=self.random.uniform(3, 10))
        else:
            at = None
        completed = self.players.ad_completed_at(viewer, served, self.random.random())
        if completed is not None:
            beacon = self._viewer_event(viewer, completed, event_type="ad_complete",
                                        impression_id=opportunity.auction_id)  # fmt: skip
            self._send_at(completed, beacon)
        if at is not None:
            click = self._viewer_event(viewer, at, event_type="click",
                                       campaign_id=campaign.campaign_id,
                                       impression_id=opportunity.auction_id)  # fmt: skip
            self._send_at(at, click)
        return records

    def _auction_event(
        self, opportunity: Opportunity, arm: str, outcome: Outcome, event_time: str
    ) -> dict:
        screen = opportunity.screen
        top = outcome.bids[0] if outcome.bids else None
        floor = outcome.floor
        return {
            "event_id": opportunity.auction_id,
            "event_time": event_time,
            "stream_id": opportunity.stream_id,
            "viewer_id": opportunity.viewer_id,
            "slot_type": opportunity.slot_type,
            "device": opportunity.device,
            "geo": opportunity.geo,
            "scene_label": screen.scene,
            "safety_score": screen.safety,
            "brands_on_screen": ",".join(screen.brands),
            "arm": arm,
            "floor_cpm": floor.cpm if floor else None,
            "floor_rule": floor.rule_id if floor else None,
            "floor_version": (floor.version or None) if floor else None,
            "bidders": len(outcome.bids),
            "top_campaign_id": top.campaign.campaign_id if top else None,
            "top_bid_type": top.campaign.bid_type if top else None,
            "top_bid_cpm": outcome.top_ecpm if top else None,
            "second_bid_cpm": outcome.second_ecpm if len(outcome.bids) > 1 else None,
            "predicted_ctr": top.predicted_ctr if top else None,
            "ctr_model_version": self.ctr.version,
            "filled": outcome.filled,
            "clearing_cpm": outcome.clearing_cpm,
            "currency": self.catalog.rate_card.currency,
        }

    def _viewer_event(self, session: Session, at: datetime, **fields) -> SimulatedRecord:
        """A viewer event of `session` stamped with the player's clock `at`."""
        event = {
            "event_id": fields.pop("event_id", None) or self._uuid(),
            "event_time": _iso(at),
            "stream_id": session.stream_id,
            "viewer_id": session.viewer_id,
            "session_id": session.session_id,
            "position_s": round(max(0.0, (at - session.joined).total_seconds()), 3),
            "bitrate_kbps": session.bitrate,
            "device": session.device,
            "geo": session.geo,
            "cdn": session.cdn,
            "ip_hash": session.ip_hash,
            "network": session.network,
            **fields,
        }
        return SimulatedRecord("viewer_events", session.stream_id.encode(), _json(event))

    def _corrupt(self, record: SimulatedRecord) -> SimulatedRecord:
        kind = self.random.choice(BAD_KINDS)
        if kind == "filled_under_floor" and record.topic != "auctions":
            kind = "negative_price"
        event = json.loads(record.value)
        if kind == "not_json":
            value = record.value[: len(record.value) // 2]
        elif kind == "not_utf8":
            value = b"\xff\xfe" + record.value[2:]
        elif kind == "not_an_object":
            value = _json([event])
        elif kind == "missing_field":
            event.pop("event_time")
            value = _json(event)
        elif kind == "wrong_type":
            event["position_s" if record.topic == "viewer_events" else "viewer_id"] = {"x": 1}
            if record.topic == "impressions":
                event["bid_cpm"] = "twelve"
            value = _json(event)
        elif kind == "unknown_enum":
            event["event_type" if record.topic == "viewer_events" else "slot_type"] = "teleport"
            value = _json(event)
        elif kind == "filled_under_floor":
            floor = event["floor_cpm"] or 1.0
            event.update(filled=True, floor_cpm=floor, top_bid_cpm=floor / 2, clearing_cpm=floor)
            value = _json(event)
        else:  # negative_price: a negative bid or price (position, on viewer events)
            field_name = {"impressions": "clearing_cpm", "auctions": "top_bid_cpm"}.get(
                record.topic, "position_s"
            )
            event[field_name] = -1.0
            value = _json(event)
        return SimulatedRecord(record.topic, record.key, value, kind)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def simulator(
    settings: Settings,
    start: datetime | None = None,
    live: bool = False,
    ctr: CtrPredictor | None = None,
    **overrides,
) -> EventSimulator:
    """A simulator from `simulate` in conf/, with `overrides` (e.g. seed=3) applied. `live`:
    the ad server reads the floors published in Redis (and, with `simulate.screen: live`, what
    frame_analysis sees); otherwise every auction keeps the static floors."""
    conf = settings.simulate.model_copy(update=overrides)
    screens = floors = None
    if live:
        url = redis_url(settings)
        floors = RedisFloors(url, conf.floors_refresh_s)
        if conf.screen == "live":
            screens = LiveScreens(url)
    return EventSimulator(
        settings.model_copy(update={"simulate": conf}),
        seed=conf.seed,
        rate_per_s=conf.rate_per_s,
        bad_ratio=conf.bad_ratio,
        start=start,
        screens=screens,
        floors=floors or (lambda: None),
        ctr=ctr,
    )


def champion_ctr(settings: Settings) -> CtrPredictor | None:
    """The registry's `ctr-model@champion` as the ad server's CTR for cpc bids; None (a
    constant CTR) before one is trained and promoted."""
    from jobs.common.registry import NoChampionError, champion
    from jobs.ctr.model import ClickModel, CtrModelPredictor

    try:
        found = champion(settings, settings.models.ctr_model.name)
    except NoChampionError:
        log.info(
            "no %s champion yet: cpc bids are ranked at a constant CTR",
            settings.models.ctr_model.name,
        )
        return None
    bands = settings.yield_optimization.safety_bands
    return CtrModelPredictor(
        ClickModel.load(found.weights), f"{found.name}-v{found.version}", bands
    )


def publish(
    settings: Settings,
    records: Iterator[SimulatedRecord],
    count: int | None,
    duration_s: float | None,
    rate_per_s: float,
) -> Counter:
    """Send records to Kafka at `rate_per_s` (0: as fast as possible); returns what was sent."""
    check_broker(client_config(settings))
    out = producer(settings, **{"enable.idempotence": True})
    topics = {key: settings.kafka.topics[key].name for key in TOPICS}
    sent: Counter = Counter()
    failures: list[str] = []

    def delivered(err, msg) -> None:
        if err is not None:
            failures.append(str(err))

    started = last_report = time.monotonic()
    for index, record in enumerate(records):
        now = time.monotonic()
        if (count is not None and index >= count) or (
            duration_s is not None and now - started >= duration_s
        ):
            break
        if rate_per_s and index >= rate_per_s * (now - started):
            time.sleep(min(0.05, index / rate_per_s - (now - started)))
        while True:
            try:
                out.produce(
                    topics[record.topic], value=record.value, key=record.key, on_delivery=delivered
                )
                break
            except BufferError:  # local queue full: let deliveries drain
                out.poll(0.1)
        sent[record.topic] += 1
        sent[f"bad:{record.bad_kind}" if record.bad_kind else "valid"] += 1
        if index % 10_000 == 0:
            out.poll(0)
        if now - last_report >= 5:
            last_report = now
            log.info("sent %d records (%.0f/s)", index + 1, (index + 1) / (now - started))
    remaining = flush(out, 60)
    if failures or remaining:
        raise RuntimeError(
            f"{len(failures) + remaining} records were not delivered to Kafka; first error: "
            f"{failures[0] if failures else 'flush timed out'}"
        )
    elapsed = time.monotonic() - started
    total = sum(sent[topic] for topic in TOPICS)
    log.info("sent %d records in %.1fs (%.0f/s): %s", total, elapsed, total / elapsed, dict(sent))
    return sent


def main(argv: list[str] | None = None) -> Counter:
    parser = argparse.ArgumentParser(prog="brandlake simulate", description=__doc__.split("\n")[0])
    limit = parser.add_mutually_exclusive_group()
    limit.add_argument("--count", type=int, help="number of records to send")
    limit.add_argument("--duration", type=float, help="seconds to keep sending")
    parser.add_argument("--rate", type=float, help="records per second (0: unpaced)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--bad-ratio", type=float, help="share of malformed records, 0..1")
    parser.add_argument(
        "--static-floors",
        action="store_true",
        help="every auction keeps the static campaign floors (no Redis needed)",
    )
    add_set_option(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    settings = command_settings(parse_overrides(args.set))
    chosen = {"rate_per_s": args.rate, "seed": args.seed, "bad_ratio": args.bad_ratio}
    chosen = {k: v for k, v in chosen.items() if v is not None}
    conf = settings.simulate.model_validate({**settings.simulate.model_dump(), **chosen})
    if args.count is None and args.duration is None:
        parser.error("give --count N or --duration SECONDS")
    check_broker(client_config(settings))  # before Redis and the registry: Kafka is the output
    live = not args.static_floors
    records = simulator(settings, live=live, ctr=champion_ctr(settings) if live else None, **chosen)
    return publish(settings, iter(records), args.count, args.duration, conf.rate_per_s)


if __name__ == "__main__":
    main(sys.argv[1:])
