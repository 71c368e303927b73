"""Brand mentions per minute: brands named on screen (text) or out loud (speech), from the
mentions frame_analysis attached to its frame messages (`silver.frame_brands.mentions`).

Pure functions over one stream's mentions in time order, like `jobs/exposure/metrics.py`.

- Text: each frame read for text that names a brand stands for its `duration_s` (to the next
  frame read). Seconds = those durations, counted in each reading's minute. A mention is a run
  of readings naming the brand, with gaps of up to `gap_tolerance_s` not splitting it (a caption
  shown 4 s is one mention, read four times); it counts in the minute it starts.
- Speech: each spoken name is one mention, its seconds the time it took to say. A name said
  across a segment boundary can be heard in both segments (each hears the end of the one
  before): the same brand said again within `gap_tolerance_s` is that one mention.
- Media value, its own line beside screen time's: text seconds x the stream's rate per second
  x `rate_card.mentions.text_weight`, plus spoken mentions x `mentions.per_spoken_mention`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from jobs.common.config import RateCard
from jobs.exposure.metrics import minute_of, rate_per_second

KINDS = ("text", "speech")


@dataclass(frozen=True)
class Mention:
    stream_id: str
    brand_id: str
    kind: str  # text | speech
    time: datetime  # the reading's frame, or the first spoken word
    duration_s: float


def mention_runs(mentions: Iterable[Mention], gap_tolerance_s: float) -> list[list[Mention]]:
    """Mentions grouped into what a viewer took as one: runs of text readings of the same
    brand with gaps of at most `gap_tolerance_s`; each spoken name alone (a second hearing of
    it within `gap_tolerance_s`, from an overlapping segment, left out)."""
    runs: list[list[Mention]] = []
    open_runs: dict[str, list[Mention]] = {}  # brand -> its current text run
    last_said: dict[str, datetime] = {}
    for mention in sorted(mentions, key=lambda m: (m.time, m.brand_id, m.kind)):
        if mention.kind != "text":
            said = last_said.get(mention.brand_id)
            if said is None or (mention.time - said).total_seconds() > gap_tolerance_s:
                runs.append([mention])
                last_said[mention.brand_id] = mention.time
            continue
        run = open_runs.get(mention.brand_id)
        if run is not None:
            last = run[-1]
            gap = (mention.time - last.time).total_seconds() - last.duration_s
            if gap <= gap_tolerance_s:
                run.append(mention)
                continue
        run = [mention]
        open_runs[mention.brand_id] = run
        runs.append(run)
    return runs


def brand_mention_minutes(
    mentions: Iterable[Mention], gap_tolerance_s: float, rate_card: RateCard
) -> list[dict]:
    """`gold.brand_mentions_minute` rows (without `updated_at`) of one stream's mentions."""
    rows: dict[tuple[str, str, datetime], dict] = {}

    def row(mention: Mention, minute: datetime) -> dict:
        key = (mention.stream_id, mention.brand_id, minute)
        if key not in rows:
            rows[key] = {
                "stream_id": mention.stream_id,
                "brand_id": mention.brand_id,
                "minute": minute,
                **{f"{kind}_{what}": 0 for kind in KINDS for what in ("mentions", "seconds")},
            }
        return rows[key]

    for run in mention_runs(mentions, gap_tolerance_s):
        first = run[0]
        row(first, minute_of(first.time))[f"{first.kind}_mentions"] += 1
        for mention in run:
            row(mention, minute_of(mention.time))[f"{mention.kind}_seconds"] += mention.duration_s
    value = rate_card.mentions
    for found in rows.values():
        rate = rate_per_second(rate_card, found["stream_id"])
        found["text_seconds"] = round(found["text_seconds"], 6)
        found["speech_seconds"] = round(found["speech_seconds"], 6)
        found["media_value"] = (
            found["text_seconds"] * rate * value.text_weight
            + found["speech_mentions"] * value.per_spoken_mention
        )
        found["currency"] = rate_card.currency
    return sorted(rows.values(), key=lambda r: (r["minute"], r["brand_id"]))
