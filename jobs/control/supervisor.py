"""Ingest started and stopped from the control plane: `brandlake streams start|stop|supervise`.

    brandlake streams supervise                           (one per ingest machine, until Ctrl-C)
    brandlake streams start arena-live --file match.mp4 [--loop] [--realtime]
    brandlake streams start arena-live --rtmp [--listen rtmp://127.0.0.1:1935/live/KEY]
    brandlake streams stop arena-live

A start or a stop is a row of `ops.stream_control` (who, what, when), like a mode switch; the
dashboard's Control page writes the same rows. The supervisor reads the table every
`ingest.supervise_interval_s` and keeps one `brandlake ingest` process per channel whose latest
request is a start: started when asked, restarted when a newer start names another source,
stopped with SIGINT (ffmpeg closes its segment and playlist, every finished segment is
announced) when asked. An ingest that ends by itself (a file played through, or an error) is
recorded as `ended` with why, so a restarted supervisor resumes what was running (an RTMP
listener, a looped file) and does not replay a finished file. Stopping the supervisor stops its
ingests but not the requests: the next supervisor starts them again.

Each running ingest is announced in Redis (`brandlake:ingest:<stream_id>`, refreshed every
poll, expiring soon after the supervisor stops) for `brandlake streams list` and the page.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow.dataset as ds

from jobs.common.config import Settings
from jobs.common.lake import OpenTables
from jobs.common.live_state import redis_client, redis_url
from jobs.control.modes import ControlError, check_stream, record_action
from jobs.ingest.run import last_lines
from schemas.tables import STREAM_CONTROL

log = logging.getLogger("brandlake.control")

START, STOP, ENDED = "start", "stop", "ended"
INGEST_KEY = "brandlake:ingest:{stream_id}"
SUPERVISOR_KEY = "brandlake:ingest-supervisor"
SUPERVISOR = "supervisor"  # who records an ingest that ended by itself


@dataclass(frozen=True)
class IngestRequest:
    """The latest start, stop or end recorded for a channel."""

    stream_id: str
    action: str
    value: str  # a start's source (JSON), a stop's nothing, an end's reason
    requested_by: str
    requested_at: datetime

    @property
    def source(self) -> dict:
        return json.loads(self.value)


def describe_source(source: dict) -> str:
    if source["kind"] == "file":
        options = [name for name in ("loop", "realtime") if source.get(name)]
        return f"file {source['path']}" + (f" ({', '.join(options)})" if options else "")
    return f"rtmp {source.get('listen') or '(ingest.listen)'}"


def request_start(settings: Settings, stream_id: str, source: dict, requested_by: str) -> dict:
    """Ask for `stream_id`'s ingest from `source` ({"kind": "file", "path", "loop", "realtime"}
    or {"kind": "rtmp", "listen", "transcode"}); returns the audit row."""
    check_stream(settings, stream_id)
    if source.get("kind") not in ("file", "rtmp"):
        raise ControlError(f"a source is a file or rtmp, not {source.get('kind')!r}")
    if source["kind"] == "file":
        path = Path(source.get("path") or "")
        if not path.is_file():
            raise ControlError(f"no such video file: {path}")
        source = {**source, "path": str(path.resolve())}
    value = json.dumps(source, sort_keys=True)
    return record_action(settings, stream_id, START, value, requested_by)


def request_stop(settings: Settings, stream_id: str, requested_by: str) -> dict:
    """Ask for `stream_id`'s ingest to stop; returns the audit row."""
    check_stream(settings, stream_id)
    return record_action(settings, stream_id, STOP, "", requested_by)


def latest_requests(tables: OpenTables) -> dict[str, IngestRequest]:
    """Each channel's latest start, stop or end (none recorded: not in the result)."""
    rows = tables.read(
        STREAM_CONTROL.name,
        ["stream_id", "action", "value", "requested_by", "requested_at"],
        ds.field("action").isin([START, STOP, ENDED]),
    )
    latest: dict[str, IngestRequest] = {}
    for row in sorted(rows.to_pylist() if rows is not None else [], key=_request_order):
        latest[row["stream_id"]] = IngestRequest(**row)
    return latest


def _request_order(row: dict) -> tuple:
    return row["requested_at"], row["action"] == ENDED  # an end in the same instant is later


def ingest_command(stream_id: str, source: dict, set_args: list[str]) -> list[str]:
    """The `brandlake ingest` command line that ingests `source` as `stream_id`."""
    command = [sys.executable, "-m", "jobs.cli", "ingest"]
    if source["kind"] == "file":
        command += ["file", source["path"], "--stream-id", stream_id]
        command += [f"--{name}" for name in ("loop", "realtime") if source.get(name)]
    else:
        command += ["rtmp", "--stream-id", stream_id]
        command += ["--listen", source["listen"]] if source.get("listen") else []
        command += ["--transcode"] if source.get("transcode") else []
    return command + set_args


@dataclass
class RunningIngest:
    request: IngestRequest
    process: subprocess.Popen
    log_path: Path


class Supervisor:
    """Keeps each channel's ingest as its latest request says (one `reconcile` per poll)."""

    def __init__(self, settings: Settings, set_args: list[str] | None = None) -> None:
        self.settings = settings
        self.set_args = set_args or []  # the supervisor's own --set options, for its ingests
        self.tables = OpenTables(settings)
        self.running: dict[str, RunningIngest] = {}
        self.interval_s = settings.ingest.supervise_interval_s

    def reconcile(self) -> None:
        """Record the ingests that ended by themselves, then start, restart or stop."""
        self._record_ended()
        for stream_id, request in latest_requests(self.tables).items():
            current = self.running.get(stream_id)
            if request.action == START:
                if current is not None and current.request == request:
                    continue
                if current is not None:
                    log.info("%s: a new start request; restarting its ingest", stream_id)
                    self._stop(stream_id)
                self._start(request)
            elif current is not None:
                log.info("%s: stop requested by %s", stream_id, request.requested_by)
                self._stop(stream_id)
        self._announce()

    def run(self) -> None:
        """Reconcile every interval until Ctrl-C or SIGTERM, then stop every ingest."""
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        log.info("supervising ingest (every %.1f s; Ctrl-C stops)", self.interval_s)
        try:
            while True:
                try:
                    self.reconcile()
                except Exception:  # the lake or Redis out of reach: the ingests run on
                    log.exception("could not apply the control requests; next try in %.1f s",
                                  self.interval_s)  # fmt: skip
                time.sleep(self.interval_s)
        except KeyboardInterrupt:
            log.info("stopping %d ingest(s); their requests stand", len(self.running))
        finally:
            signal.signal(signal.SIGTERM, previous)
            self.stop_all()

    def stop_all(self) -> None:
        """Stop every ingest this supervisor runs, leaving their requests standing."""
        for stream_id in list(self.running):
            self._stop(stream_id)
        self._announce(stopping=True)

    def _start(self, request: IngestRequest) -> None:
        logs = Path(self.settings.run_dir) / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"supervised-ingest-{request.stream_id}.log"
        command = ingest_command(request.stream_id, request.source, self.set_args)
        with open(log_path, "ab") as out:
            out.write(f"\n$ {' '.join(command)}\n".encode())
            out.flush()
            # its own process group: a stop signals ingest and its ffmpeg together, as Ctrl-C
            process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.running[request.stream_id] = RunningIngest(request, process, log_path)
        log.info("%s: ingesting %s (pid %d, asked by %s; log %s)", request.stream_id,
                 describe_source(request.source), process.pid, request.requested_by,
                 log_path)  # fmt: skip

    def _stop(self, stream_id: str) -> None:
        ingest = self.running.pop(stream_id)
        if ingest.process.poll() is None:
            os.killpg(ingest.process.pid, signal.SIGINT)
            try:
                ingest.process.wait(30)
            except subprocess.TimeoutExpired:
                log.warning("%s: ingest did not stop in 30 s; killed", stream_id)
                os.killpg(ingest.process.pid, signal.SIGKILL)
                ingest.process.wait()
        log.info("%s: ingest stopped (code %s)", stream_id, ingest.process.returncode)

    def _record_ended(self) -> None:
        for stream_id, ingest in list(self.running.items()):
            code = ingest.process.poll()
            if code is None:
                continue
            del self.running[stream_id]
            reason = "finished"
            if code != 0:
                reason = f"failed (code {code}): {last_lines(ingest.log_path)}"
            record_action(self.settings, stream_id, ENDED, reason, SUPERVISOR)
            (log.info if code == 0 else log.warning)("%s: ingest %s", stream_id, reason)

    def _announce(self, stopping: bool = False) -> None:
        """Each running ingest to Redis, expiring unless the next poll refreshes it, and
        this supervisor (withdrawn when `stopping`)."""
        ttl = max(10, int(3 * self.interval_s))
        try:
            client = redis_client(redis_url(self.settings))
            with client.pipeline() as pipe:
                if stopping:
                    pipe.delete(SUPERVISOR_KEY)
                else:
                    pipe.set(SUPERVISOR_KEY, f"{socket.gethostname()}:{os.getpid()}", ex=ttl)
                for stream in self.settings.catalog.streams:
                    key = INGEST_KEY.format(stream_id=stream.stream_id)
                    ingest = self.running.get(stream.stream_id)
                    if ingest is None:
                        pipe.delete(key)
                        continue
                    pipe.hset(key, mapping={
                        "source": describe_source(ingest.request.source),
                        "pid": ingest.process.pid,
                        "since": ingest.request.requested_at.isoformat(),
                        "requested_by": ingest.request.requested_by,
                    })  # fmt: skip
                    pipe.expire(key, ttl)
                pipe.execute()
        except Exception as error:  # supervising goes on without the announcement
            log.warning("cannot announce ingest state in Redis: %s", error)


def ingest_states(settings: Settings) -> tuple[bool, dict[str, dict]]:
    """Whether a supervisor is running, and each channel's running ingest, from Redis."""
    client = redis_client(redis_url(settings))
    streams = [s.stream_id for s in settings.catalog.streams]
    states = {s: client.hgetall(INGEST_KEY.format(stream_id=s)) for s in streams}
    return bool(client.exists(SUPERVISOR_KEY)), {s: v for s, v in states.items() if v}


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
