"""Starting and stopping `foreachBatch` streaming queries the same way in every job."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pyspark.sql import DataFrame
from pyspark.sql.streaming import StreamingQuery

from jobs.common import metrics
from jobs.common.config import Settings, StreamingJobConf
from jobs.common.object_store import spark_path

log = logging.getLogger("brandlake")


class BatchClock:
    """Where a micro-batch's time went, for its log line (`with clock.phase("gold"): ...`)."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.phases: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.monotonic() - began

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def __str__(self) -> str:
        parts = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in self.phases.items())
        total = f"{self.elapsed():.2f}s"
        return f"{total}: {parts}" if parts else total


# (batch DataFrame, batch id, query id, clock) -> what each table got
BatchHandler = Callable[[DataFrame, int, str, BatchClock], list]


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)


def start_query(
    stream: DataFrame,
    settings: Settings,
    job: StreamingJobConf,
    handle_batch: BatchHandler,
    available_now: bool = False,
) -> StreamingQuery:
    """Run `handle_batch(batch_df, batch_id, query_id, clock)` for each micro-batch of
    `stream` and log what it wrote and where its time went.

    The query id (kept in the checkpoint, so stable across restarts) is the Delta app id that
    makes replayed batches idempotent; it is known only once the query has started, so each
    batch waits for it.
    """
    started = threading.Event()
    holder: dict = {}

    def run(batch_df: DataFrame, batch_id: int) -> None:
        started.wait()
        clock = BatchClock()
        results = handle_batch(batch_df, batch_id, holder["id"], clock)
        log.info("%s batch %d: %s (%s)", job.query_name, batch_id, describe_results(results),
                 clock)  # fmt: skip
        metrics.record_batch(job.query_name, clock.elapsed(), clock.phases, results)
        # the previous batch's progress: how far behind the topics' ends it left the job
        metrics.record_progress(job.query_name, holder["query"].lastProgress)

    writer = (
        stream.writeStream.foreachBatch(run)
        .queryName(job.query_name)
        .option("checkpointLocation", spark_path(settings.checkpoint_uri(job.query_name)))
    )
    writer = (
        writer.trigger(availableNow=True)
        if available_now
        else writer.trigger(processingTime=job.trigger_interval)
    )
    metrics.serve(settings, job.query_name)
    query = writer.start()
    holder.update(id=str(query.id), query=query)
    started.set()
    log.info(
        "%s started (query id %s, checkpoint %s, %s)",
        job.query_name,
        query.id,
        settings.checkpoint_uri(job.query_name),
        "until caught up" if available_now else f"every {job.trigger_interval}",
    )
    return query


def run_until_stopped(query: StreamingQuery) -> None:
    """Block until the query ends; Ctrl-C or SIGTERM stops it between batches' commits."""

    def stop(signum, frame) -> None:
        log.info("stopping %s (signal %d)", query.name, signum)
        threading.Thread(target=query.stop, daemon=True).start()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        query.awaitTermination()
    except KeyboardInterrupt:
        log.info("stopping %s (Ctrl-C)", query.name)
        query.stop()
    finally:
        signal.signal(signal.SIGTERM, previous)


def describe_results(results) -> str:
    """`table +rows` (or `already written`) for each table a batch wrote, for the batch log."""
    return ", ".join(
        f"{r.table} {'already written' if r.skipped else f'+{r.rows}'}" for r in results
    )


def run_job(
    name: str,
    start: Callable[..., StreamingQuery],
    settings: Settings,
    available_now: bool,
    tables: list,
) -> None:
    """Run a job's query (`start(settings, spark, available_now)`) until stopped (Ctrl-C,
    SIGTERM) or, with `available_now`, caught up; then say where its tables are."""
    from jobs.common.kafka import check_broker, client_config
    from jobs.common.spark import build_session

    check_broker(client_config(settings))
    job_options = getattr(settings.jobs, name).spark_options
    spark = build_session(settings, f"brandlake-{name}", job_options)
    query = start(settings, spark, available_now)
    run_until_stopped(query)
    metrics.record_progress(query.name, query.lastProgress)  # the last batch's
    if query.exception() is not None:
        raise RuntimeError(f"{name} failed: {query.exception()}")
    for table in tables:
        log.info("%s: %s", table.name, settings.table_uri(table.name))
