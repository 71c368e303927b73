"""The per-brand summary `make demo` prints: exposure and revenue from the gold tables."""

from __future__ import annotations

from jobs.common.config import Settings
from jobs.common.lake import open_table
from schemas.tables import BRAND_EXPOSURE_MINUTE, IMPRESSION_CONTEXT


def _rows(settings: Settings, name: str) -> list[dict]:
    delta = open_table(settings, name)
    return delta.to_pyarrow_table().to_pylist() if delta is not None else []


def brand_summary(settings: Settings, stream_id: str | None = None) -> list[dict]:
    """Per brand: screen seconds, share of voice, quality index (weighted by screen seconds),
    media value, impressions and revenue (of the campaigns of that brand)."""
    brands: dict[str, dict] = {
        b.brand_id: {"brand_id": b.brand_id, "screen_seconds": 0.0, "weighted_quality": 0.0,
                     "media_value": 0.0, "impressions": 0, "revenue": 0.0,
                     "revenue_on_screen": 0.0}
        for b in settings.catalog.brands
    }  # fmt: skip
    for row in _rows(settings, BRAND_EXPOSURE_MINUTE.name):
        if stream_id in (None, row["stream_id"]) and row["brand_id"] in brands:
            found = brands[row["brand_id"]]
            found["screen_seconds"] += row["screen_seconds"]
            found["weighted_quality"] += row["quality_index"] * row["screen_seconds"]
            found["media_value"] += row["media_value"]
    for row in _rows(settings, IMPRESSION_CONTEXT.name):
        if stream_id in (None, row["stream_id"]) and row["brand_id"] in brands:
            found = brands[row["brand_id"]]
            found["impressions"] += 1
            found["revenue"] += row["clearing_cpm"] / 1000
            found["revenue_on_screen"] += row["clearing_cpm"] / 1000 * row["own_brand_on_screen"]
    total = sum(b["screen_seconds"] for b in brands.values())
    for found in brands.values():
        seconds = found["screen_seconds"]
        found["share_of_voice"] = seconds / total if total else 0.0
        found["quality_index"] = found.pop("weighted_quality") / seconds if seconds else 0.0
    return sorted(brands.values(), key=lambda b: -b["screen_seconds"])


def format_summary(rows: list[dict], currency: str) -> str:
    header = (
        f"{'brand':12} {'screen s':>9} {'share':>6} {'quality':>8} {'media value':>12} "
        f"{'impressions':>11} {'revenue':>9} {'on screen':>9}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r['brand_id']:12} {r['screen_seconds']:9.1f} {r['share_of_voice']:6.1%} "
            f"{r['quality_index']:8.2f} {r['media_value']:8.2f} {currency:3} "
            f"{r['impressions']:11d} {r['revenue']:9.2f} {r['revenue_on_screen']:9.2f}"
        )
    lines.append(
        f"(screen s: seconds on screen; share: of all brands' screen time; quality 0..1; revenue "
        f"and 'on screen' (served while the brand showed) in {currency}, from impressions)"
    )
    return "\n".join(lines)
