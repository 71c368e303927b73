"""simulate: ad impressions and viewer events for the catalog's streams, into Kafka.

    brandlake simulate --count 100000 [--rate 2000] [--seed 7] [--bad-ratio 0.01]

Viewers join the catalog's streams in proportion to their audience, play, send heartbeats, pause,
buffer and click; ad impressions go to campaigns by weight at a second-price clearing above the
campaign's floor. Event times follow the configured rate (real time when paced). `--bad-ratio`
replaces that share of records with malformed ones of known kinds, so quarantine can be checked.
Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from jobs.common.config import Catalog, Settings, add_set_option, parse_overrides
from jobs.common.kafka import check_broker, client_config, producer
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
)
BITRATES_KBPS = (800, 1500, 3000, 4500, 6000)


@dataclass(frozen=True)
class SimulatedRecord:
    topic: str  # key of `kafka.topics`: impressions | viewer_events
    key: bytes
    value: bytes
    bad_kind: str | None = None


@dataclass
class _Viewer:
    viewer_id: str
    stream_id: str
    joined: datetime
    device: str
    geo: str
    bitrate: int
    recent_campaigns: list[str] = field(default_factory=list)


class EventSimulator:
    """An endless, seeded sequence of impressions and viewer events (some malformed on request)."""

    def __init__(
        self,
        catalog: Catalog,
        seed: int,
        rate_per_s: float,
        impression_share: float,
        click_through_rate: float,
        bad_ratio: float = 0.0,
        start: datetime | None = None,
    ) -> None:
        self.catalog = catalog
        self.random = random.Random(seed)
        self.spacing = (
            timedelta(seconds=1 / rate_per_s) if rate_per_s else timedelta(milliseconds=1)
        )
        self.impression_share = impression_share
        self.ctr = click_through_rate
        self.bad_ratio = bad_ratio
        self.clock = start or datetime.now(UTC)
        self.viewers: list[_Viewer] = []
        self._stream_weights = [s.audience or 1 for s in catalog.streams]
        self._campaign_weights = [c.weight for c in catalog.campaigns]
        self._brand_advertiser = {b.brand_id: b.advertiser_id for b in catalog.brands}

    def __iter__(self) -> Iterator[SimulatedRecord]:
        while True:
            self.clock += self.spacing
            record = self._next_valid()
            if self.bad_ratio and self.random.random() < self.bad_ratio:
                record = self._corrupt(record)
            yield record

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def _pick(self, weights: dict[str, float]) -> str:
        return self.random.choices(list(weights), weights=list(weights.values()))[0]

    def _event_time(self) -> str:
        # Players report late and out of order: up to 2 s of jitter.
        jitter = timedelta(milliseconds=self.random.uniform(-2000, 0))
        return (self.clock + jitter).isoformat(timespec="microseconds").replace("+00:00", "Z")

    def _viewer(self) -> tuple[_Viewer, bool]:
        """A viewer to act next; sometimes a new one joins (their first event is `play`)."""
        if len(self.viewers) < 50 or self.random.random() < 0.02:
            stream = self.random.choices(self.catalog.streams, weights=self._stream_weights)[0]
            viewer = _Viewer(
                viewer_id=f"v-{self._uuid()[:12]}",
                stream_id=stream.stream_id,
                joined=self.clock,
                device=self._pick(self.catalog.devices),
                geo=self._pick(self.catalog.geos),
                bitrate=self.random.choice(BITRATES_KBPS),
            )
            self.viewers.append(viewer)
            if len(self.viewers) > 5000:
                self.viewers.pop(0)
            return viewer, True
        return self.random.choice(self.viewers), False

    def _next_valid(self) -> SimulatedRecord:
        viewer, joined = self._viewer()
        if not joined and self.random.random() < self.impression_share:
            return self._impression(viewer)
        return self._viewer_event(viewer, "play" if joined else None)

    def _impression(self, viewer: _Viewer) -> SimulatedRecord:
        campaign = self.random.choices(self.catalog.campaigns, weights=self._campaign_weights)[0]
        bid = round(campaign.floor_cpm * self.random.lognormvariate(0.35, 0.3), 4)
        bid = max(bid, campaign.floor_cpm)
        clearing = round(max(campaign.floor_cpm, bid * self.random.uniform(0.6, 0.95)), 4)
        viewer.recent_campaigns = [*viewer.recent_campaigns[-4:], campaign.campaign_id]
        event = {
            "event_id": self._uuid(),
            "event_time": self._event_time(),
            "stream_id": viewer.stream_id,
            "viewer_id": viewer.viewer_id,
            "campaign_id": campaign.campaign_id,
            "advertiser_id": campaign.advertiser_id,
            "brand_id": campaign.brand_id,
            "slot_type": self._pick(self.catalog.slot_types),
            "bid_cpm": bid,
            "clearing_cpm": clearing,
            "currency": self.catalog.rate_card.currency,
            "device": viewer.device,
            "geo": viewer.geo,
        }
        return SimulatedRecord("impressions", viewer.stream_id.encode(), _json(event))

    def _viewer_event(self, viewer: _Viewer, kind: str | None) -> SimulatedRecord:
        campaign_id = None
        if kind is None:
            if viewer.recent_campaigns and self.random.random() < self.ctr / (
                1 - self.impression_share
            ):
                kind, campaign_id = "click", viewer.recent_campaigns[-1]
            else:
                kind = self.random.choices(
                    ("heartbeat", "pause", "play", "buffering"), weights=(85, 5, 5, 5)
                )[0]
        if kind == "buffering":
            viewer.bitrate = self.random.choice(BITRATES_KBPS[:3])
        event = {
            "event_id": self._uuid(),
            "event_time": self._event_time(),
            "stream_id": viewer.stream_id,
            "viewer_id": viewer.viewer_id,
            "event_type": kind,
            "position_s": round((self.clock - viewer.joined).total_seconds(), 3),
            "bitrate_kbps": viewer.bitrate,
            "campaign_id": campaign_id,
        }
        return SimulatedRecord("viewer_events", viewer.stream_id.encode(), _json(event))

    def _corrupt(self, record: SimulatedRecord) -> SimulatedRecord:
        kind = self.random.choice(BAD_KINDS)
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
            event["viewer_id" if record.topic == "impressions" else "position_s"] = {"x": 1}
            if record.topic == "impressions":
                event["bid_cpm"] = "twelve"
            value = _json(event)
        elif kind == "unknown_enum":
            event["slot_type" if record.topic == "impressions" else "event_type"] = "teleport"
            value = _json(event)
        else:  # negative_price (or position, on viewer events)
            event["clearing_cpm" if record.topic == "impressions" else "position_s"] = -1.0
            value = _json(event)
        return SimulatedRecord(record.topic, record.key, value, kind)


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def simulator(settings: Settings, start: datetime | None = None, **overrides) -> EventSimulator:
    """A simulator from `simulate` in conf/, with `overrides` (e.g. seed=3) applied."""
    conf = settings.simulate.model_copy(update=overrides)
    return EventSimulator(
        settings.catalog,
        seed=conf.seed,
        rate_per_s=conf.rate_per_s,
        impression_share=conf.impression_share,
        click_through_rate=conf.click_through_rate,
        bad_ratio=conf.bad_ratio,
        start=start,
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
    topics = {key: settings.kafka.topics[key].name for key in ("impressions", "viewer_events")}
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
    remaining = out.flush(60)
    if failures or remaining:
        raise RuntimeError(
            f"{len(failures) + remaining} records were not delivered to Kafka; first error: "
            f"{failures[0] if failures else 'flush timed out'}"
        )
    elapsed = time.monotonic() - started
    total = sent["impressions"] + sent["viewer_events"]
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
    add_set_option(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    settings = command_settings(parse_overrides(args.set))
    chosen = {"rate_per_s": args.rate, "seed": args.seed, "bad_ratio": args.bad_ratio}
    conf = settings.simulate.model_validate(
        {**settings.simulate.model_dump(), **{k: v for k, v in chosen.items() if v is not None}}
    )
    if args.count is None and args.duration is None:
        parser.error("give --count N or --duration SECONDS")
    records = simulator(settings, **conf.model_dump())
    return publish(settings, iter(records), args.count, args.duration, conf.rate_per_s)


if __name__ == "__main__":
    main(sys.argv[1:])
