"""Lakehouse maintenance, the steps the `lakehouse_maintenance` DAG runs (each also on its own):

    brandlake maintenance [--set maintenance.vacuum_retention_hours=72]

1. `tables`: check the VACUUM retention against the streaming jobs' needs (refuse, touching
   nothing, when it is too short), then compact the partitions the streaming jobs leave to it
   (`jobs/maintenance/tables.py`), VACUUM every table and record its size in `ops.table_stats`;
2. `checkpoints`: prune streaming checkpoints' old offsets and commits;
3. `landing`: delete segments older than `ingest.retention_hours` of ended streams;
4. `live state`: delete the Redis keys of streams whose ingest has ended.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path

from jobs.common.config import Settings, join_uri
from jobs.common.lake import ALL_TABLES, append_rows, open_table
from jobs.ingest.playlist import read_playlist
from jobs.maintenance.checkpoints import prune_checkpoints
from jobs.maintenance.landing import PLAYLIST, prune_landing
from jobs.maintenance.tables import (
    check_retention,
    compact,
    retention_needs,
    table_stats,
    vacuum,
)
from schemas.tables import TABLE_STATS

log = logging.getLogger("brandlake.maintenance")


def maintain_tables(settings: Settings, now: datetime | None = None) -> list[dict]:
    """Compact and VACUUM every table, after checking the retention for all of them; returns
    and records (`ops.table_stats`) each table's statistics."""
    now = now or datetime.now(UTC)
    check_retention(settings, retention_needs(settings, now))
    rows = []
    for table in ALL_TABLES:
        delta = open_table(settings, table.name)
        if delta is None or table.name == TABLE_STATS.name:
            continue
        started = time.monotonic()
        compacted = compact(delta, table, settings.delta.compact_recent_days)
        vacuumed = vacuum(delta, settings.maintenance.vacuum_retention_hours)
        stats = table_stats(settings, table.name)
        log.info(
            "%s: %d files compacted, %d vacuumed; now %d files, %.1f MB (%.1f s)",
            table.name, compacted, vacuumed, stats["files"], stats["bytes"] / 1e6,
            time.monotonic() - started,
        )  # fmt: skip
        rows.append(
            {**stats, "run_time": now, "files_compacted": compacted, "files_vacuumed": vacuumed,
             "run_date": now.date()}
        )  # fmt: skip
    if rows:
        append_rows(settings, TABLE_STATS, rows)
    return rows


def ended_streams(settings: Settings) -> list[str]:
    """Streams whose landing playlist is ended, or whose landing folder is gone."""
    if "://" in settings.lake.root:
        return []
    root = Path(join_uri(settings.lake.root, settings.ingest.landing))
    ended = []
    for stream in settings.catalog.streams:
        playlist = root / stream.stream_id / PLAYLIST
        if not playlist.exists() or read_playlist(playlist)[1]:
            ended.append(stream.stream_id)
    return ended


def expire_live_state(settings: Settings) -> list[str]:
    """Delete the Redis keys (live frame, exposure, revenue) of streams that ended; returns
    the keys deleted."""
    from jobs.common.live_state import EXPOSURE_KEY, LIVE_KEY, REVENUE_KEY, redis_client, redis_url

    client = redis_client(redis_url(settings))
    keys = [
        key.format(stream_id=stream)
        for stream in ended_streams(settings)
        for key in (LIVE_KEY, EXPOSURE_KEY, REVENUE_KEY)
    ]
    present = [k for k in keys if client.exists(k)]
    if present:
        client.delete(*present)
    return present


def run_maintenance(settings: Settings) -> dict:
    """Every step in order; returns what each did and the seconds taken."""
    started = time.monotonic()
    now = datetime.now(UTC)
    report = {
        "tables": maintain_tables(settings, now),
        "checkpoints": prune_checkpoints(settings),
        "landing": [vars(r) for r in prune_landing(settings, now)],
        "live_state": expire_live_state(settings),
    }
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


def main(argv: list[str] | None = None) -> dict:
    import argparse

    from jobs.common.config import add_set_option, parse_overrides
    from jobs.entrypoint import command_settings

    parser = argparse.ArgumentParser(
        prog="brandlake maintenance", description=__doc__.split("\n\n")[0]
    )
    add_set_option(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    report = run_maintenance(command_settings(parse_overrides(args.set)))
    files = sum(r["files"] for r in report["tables"])
    print(
        f"maintenance: {len(report['tables'])} tables ({files} files), "
        f"{sum(report['checkpoints'].values())} checkpoint entries and "
        f"{sum(r['segments_deleted'] for r in report['landing'])} landing segments deleted, "
        f"{len(report['live_state'])} Redis keys expired, in {report['seconds']} s"
    )
    return report
