"""
### Lakehouse maintenance (daily)

Keeps the lake small and fast without touching what the streaming jobs still need:

1. **tables**: checks the VACUUM retention against every streaming job's last commit (refuses,
   touching nothing, when it is too short), then compacts the partitions the streaming jobs no
   longer compact themselves, VACUUMs every Delta table and records its size and file count in
   `ops.table_stats` (the dashboard's Health page);
2. **checkpoints**: prunes streaming checkpoints' offsets and commits Spark no longer needs;
3. **landing**: deletes segments of ended streams older than `ingest.retention_hours`, their
   playlists rewritten first;
4. **live state**: deletes the Redis keys of streams whose ingest has ended.

Code: `jobs/maintenance/`; settings: the `maintenance` section of `conf/`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from jobs.scheduling import default_args


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["brandlake", "maintenance"],
    doc_md=__doc__,
)
def lakehouse_maintenance():
    @task
    def tables() -> int:
        from jobs.entrypoint import command_settings
        from jobs.maintenance.run import maintain_tables

        return len(maintain_tables(command_settings()))

    @task
    def checkpoints() -> dict:
        from jobs.entrypoint import command_settings
        from jobs.maintenance.checkpoints import prune_checkpoints

        return prune_checkpoints(command_settings())

    @task
    def landing() -> int:
        from datetime import UTC, datetime

        from jobs.entrypoint import command_settings
        from jobs.maintenance.landing import prune_landing

        results = prune_landing(command_settings(), datetime.now(UTC))
        return sum(r.segments_deleted for r in results)

    @task
    def live_state() -> list[str]:
        from jobs.entrypoint import command_settings
        from jobs.maintenance.run import expire_live_state

        return expire_live_state(command_settings())

    tables()
    checkpoints()
    landing() >> live_state()  # a stream whose landing is gone has ended


lakehouse_maintenance()
