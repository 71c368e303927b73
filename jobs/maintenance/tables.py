"""Delta tables kept small and fast: compaction, VACUUM within what the streaming jobs still need,
and a record of each table's size (`ops.table_stats`).

What a streaming job needs from a table it writes: when it restarts from its checkpoint it
replays its last batch, and a replay the Delta sink skips reads back the files that batch's
commit added (`DeltaSink.batch_rows`, to publish the frames it committed). Compaction removes
those files from the table's latest version; VACUUM deletes removed files older than its
retention. So the retention must exceed the age of every query's last commit to every table
(plus a margin for the readers of slightly older versions): `retention_needs` measures it from
the checkpoints and the Delta logs, and `check_retention` refuses a retention below it before
anything is touched.
"""

from __future__ import annotations

import json
import logging
import math
import posixpath
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake import DeltaTable

from jobs.common import object_store
from jobs.common.config import Settings
from jobs.common.delta_sink import commit_of, older_partitions
from jobs.common.lake import ALL_TABLES, open_table
from jobs.common.object_store import StorageOptions
from schemas.tables import BATCH_TABLES, TableSpec

log = logging.getLogger("brandlake.maintenance")


class RetentionError(RuntimeError):
    """The configured VACUUM retention would delete files a streaming job still needs."""


@dataclass(frozen=True)
class Need:
    """Query `query` last committed batch `batch_id` to `table` `age_hours` ago."""

    table: str
    query: str
    batch_id: int
    age_hours: float


def checkpoint_queries(settings: Settings) -> dict[str, str]:
    """{query name: query id} of every streaming checkpoint under `lake.checkpoint_root` (the id
    is the Delta app id of the query's commits)."""
    filesystem, root = object_store.filesystem(
        settings.lake.checkpoint_root, settings.lake.storage_options
    )
    found: dict[str, str] = {}
    selector = pafs.FileSelector(root, allow_not_found=True)
    for info in filesystem.get_file_info(selector):
        if info.type != pafs.FileType.Directory:
            continue
        metadata = posixpath.join(info.path, "metadata")
        if filesystem.get_file_info(metadata).type == pafs.FileType.File:
            with filesystem.open_input_stream(metadata) as stream:
                found[info.base_name] = json.loads(stream.read().decode())["id"]
    return found


def last_commit_time(
    delta: DeltaTable, app_id: str, batch_id: int, options: StorageOptions = None
) -> datetime | None:
    """When the commit carrying (app_id, batch_id) was made; None if the log no longer has it."""
    actions = commit_of(delta.table_uri, delta.version(), app_id, batch_id, options)
    if actions is None:
        return None
    info = next((a["commitInfo"] for a in actions if "commitInfo" in a), {})
    return datetime.fromtimestamp(info.get("timestamp", 0) / 1000, UTC)


def retention_needs(settings: Settings, now: datetime) -> list[Need]:
    """For each table and each query that has committed to it: the age of its last batch."""
    queries = checkpoint_queries(settings)
    needs: list[Need] = []
    for table in ALL_TABLES:
        delta = open_table(settings, table.name)
        if delta is None:
            continue
        for query, app_id in queries.items():
            batch_id = delta.transaction_version(app_id)
            if batch_id is None:
                continue
            committed = last_commit_time(delta, app_id, batch_id, settings.lake.storage_options)
            # A last batch older than the history read is older than any retention: count it so
            age = (now - committed).total_seconds() / 3600 if committed else float("inf")
            needs.append(Need(table.name, query, batch_id, age))
    return needs


def check_retention(settings: Settings, needs: list[Need]) -> None:
    """Raise RetentionError naming the job and table when the retention is too short."""
    conf = settings.maintenance
    short = [
        n for n in needs if n.age_hours + conf.retention_margin_hours > conf.vacuum_retention_hours
    ]
    if not short:
        return
    worst = max(short, key=lambda n: n.age_hours)
    needed = worst.age_hours + conf.retention_margin_hours
    raise RetentionError(
        f"maintenance.vacuum_retention_hours={conf.vacuum_retention_hours:g} is below what the "
        f"streaming jobs need: {worst.query}'s last batch ({worst.batch_id}) was committed to "
        f"{worst.table} {worst.age_hours:.1f} h ago, and a restart from its checkpoint reads "
        f"that commit's files. Set it to at least {needed:.1f} h (age + "
        f"maintenance.retention_margin_hours), or restart the job so its last batch is recent. "
        "Nothing was vacuumed. Short for: "
        + ", ".join(
            f"{query} ({sum(n.query == query for n in short)} tables)"
            for query in sorted({n.query for n in short})
        )
    )


def compact(delta: DeltaTable, table: TableSpec, recent_days: int) -> int:
    """Rewrite small files into fewer (delta-rs optimize); returns the files removed. Tables a
    streaming job writes: only partitions older than those the job compacts itself
    (`older_partitions`), and none of an unpartitioned one (its job compacts it whole)."""
    if table in BATCH_TABLES:
        return int(delta.optimize.compact()["numFilesRemoved"])
    older = older_partitions(delta, table, recent_days)
    if older is None:
        return 0
    return int(delta.optimize.compact(partition_filters=older)["numFilesRemoved"])


def vacuum(delta: DeltaTable, retention_hours: float) -> int:
    """Delete files no version within the retention references; returns how many."""
    deleted = delta.vacuum(
        retention_hours=math.ceil(retention_hours),
        dry_run=False,
        # check_retention already enforced the floor that matters here (the jobs' needs)
        enforce_retention_duration=False,
    )
    return len(deleted)


def table_stats(settings: Settings, name: str) -> dict | None:
    """Version, files, bytes and rows of a table's latest version; None if it does not exist."""
    delta = open_table(settings, name)
    if delta is None:
        return None
    actions = pa.table(delta.get_add_actions(flatten=True)).to_pydict()
    return {
        "table_name": name,
        "version": delta.version(),
        "files": len(actions.get("path", [])),
        "bytes": sum(actions.get("size_bytes", [])),
        "rows": sum(n or 0 for n in actions.get("num_records", [])),
    }
