"""Streaming checkpoints pruned to what a restart needs: Spark keeps the offsets and commits of
the last `spark.sql.streaming.minBatchesToRetain` batches while a query runs, and nothing
prunes them while it is stopped; older entries are never read again."""

from __future__ import annotations

import logging
from pathlib import Path

from jobs.common.config import Settings

log = logging.getLogger("brandlake.maintenance")
LOGS = ("offsets", "commits")


def _batches(folder: Path) -> list[int]:
    return (
        sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit()) if folder.exists() else []
    )


def prune_checkpoint(checkpoint: Path, retain: int) -> int:
    """Delete offsets and commits older than the newest committed batch minus `retain`;
    returns the files deleted. A batch that is offset but not committed is always kept."""
    committed = _batches(checkpoint / "commits")
    if not committed:
        return 0
    oldest_kept = committed[-1] - retain + 1
    deleted = 0
    for name in LOGS:
        for batch in _batches(checkpoint / name):
            if batch < oldest_kept:
                for path in (checkpoint / name / str(batch), checkpoint / name / f".{batch}.crc"):
                    if path.exists():
                        path.unlink()
                        deleted += 1
    return deleted


def prune_checkpoints(settings: Settings) -> dict[str, int]:
    """Every streaming checkpoint under `lake.checkpoint_root` pruned; {query: files deleted}."""
    root = Path(settings.lake.checkpoint_root)
    if "://" in settings.lake.checkpoint_root or not root.exists():
        return {}
    retain = settings.maintenance.checkpoint_batches_to_retain
    done = {}
    for checkpoint in sorted(p for p in root.iterdir() if (p / "metadata").exists()):
        done[checkpoint.name] = prune_checkpoint(checkpoint, retain)
        if done[checkpoint.name]:
            log.info(
                "checkpoint %s: %d old entries deleted", checkpoint.name, done[checkpoint.name]
            )
    return done
