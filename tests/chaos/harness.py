"""The chaos soak's parts: the live pipeline, a seeded fault driver, and the lake's contents in a
form two runs can be compared by.

The pipeline is what production runs: `brandlake ingest file --loop --realtime` plays a sample
broadcast as a live channel, a traffic thread sends simulated ad events at a steady pace (some
malformed), and bronze_ingest, frame_analysis and exposure_revenue run as process groups of
their own. A supervisor restarts whatever exits, as Kubernetes or systemd would; the driver
strikes at seeded times. Every fault and every exit is recorded, so a failing run says what
happened and its seed replays it.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from infra.local import services
from jobs.common.config import Settings
from jobs.common.kafka import client_config, producer
from jobs.simulate import SimulatedRecord, simulator
from tests.support import BRANDLAKE, job_env, read_table, start_job

JOBS = ("bronze_ingest", "frame_analysis", "exposure_revenue")
INGEST = "ingest"
UNREADABLE_STREAM = "unreadable-feed"  # where the unreadable segments are announced
# Topics each job reads (keys of `kafka.topics`): it has caught up when its last committed
# batch ends at their end offsets.
JOB_INPUTS = {
    "bronze_ingest": ("segments", "impressions", "viewer_events", "auctions"),
    "frame_analysis": ("segments",),
    "exposure_revenue": ("detections", "impressions", "viewer_events"),
}
FAULT_KINDS = (
    "kill_job",  # SIGKILL a streaming job's process group: its JVM and Python workers
    "kill_ingest",  # SIGKILL ingest and its ffmpeg mid-segment
    "restart_broker",
    "restart_redis",
    "kill_python_worker",  # a Spark task's Python worker, SIGKILLed inside a batch
    "unreadable_segment",  # a segment event whose file no decoder reads
    "malformed_burst",  # 10 s in which 20 % of the ad events are malformed
)
BURST_SECONDS, BURST_BAD_RATIO = 10.0, 0.2
# Idempotent (a broker restart makes it resend), and silent about the refused reconnects
QUIET_PRODUCER = {"enable.idempotence": True, "log_level": 2}
SUBJECTS = {"kill_ingest": INGEST, "restart_broker": "broker", "restart_redis": "redis",
            "unreadable_segment": "segments", "malformed_burst": "ad events"}  # fmt: skip


@dataclass(frozen=True)
class PlannedFault:
    at_s: float  # seconds after the fault window opened
    kind: str
    target: str  # a job's name for kill_job / kill_python_worker, else the kind's subject


def plan(seed: int, count: int, window_s: float) -> list[PlannedFault]:
    """`count` faults at seeded times in the window. Kinds come round in a seeded order in
    which each job is killed once a round, so any five faults mix kinds and 20 cover all."""
    rng = random.Random(seed)
    times = sorted(rng.uniform(0, window_s) for _ in range(count))
    faults: list[PlannedFault] = []
    rounds: list[tuple[str, str]] = []
    for at_s in times:
        if not rounds:
            rounds = [("kill_job", job) for job in JOBS]
            rounds += [(kind, SUBJECTS.get(kind) or rng.choice(JOBS))
                       for kind in FAULT_KINDS if kind != "kill_job"]  # fmt: skip
            rng.shuffle(rounds)
        kind, target = rounds.pop()
        faults.append(PlannedFault(round(at_s, 1), kind, target))
    return faults


@dataclass
class Process:
    """One supervised process: how to start it, the running one, and its history."""

    name: str
    launch: Callable[[], subprocess.Popen]
    running: subprocess.Popen | None = None
    starts: int = 0
    killed: bool = False  # by the driver: its next exit is a planned one
    supervised: bool = True
    unplanned_exits: list[str] = field(default_factory=list)


class Supervisor(threading.Thread):
    """Restarts every process that exits (after `delay_s`, doubling to 10 s while it keeps
    failing within a minute), until stopped; records the exits nobody planned."""

    def __init__(self, log: Callable[[str], None], delay_s: float = 1.0) -> None:
        super().__init__(daemon=True, name="chaos-supervisor")
        self.processes: dict[str, Process] = {}
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.log = log
        self.delay_s = delay_s

    def add(self, name: str, launch: Callable[[], subprocess.Popen]) -> None:
        with self.lock:
            process = Process(name, launch)
            self.processes[name] = process
            self._start(process)

    def _start(self, process: Process) -> None:
        process.running = process.launch()
        process.starts += 1
        process.killed = False

    def run(self) -> None:
        backoff: dict[str, tuple[float, float]] = {}  # name -> (delay, last exit)
        while not self.stopping.wait(0.25):
            with self.lock:
                for process in self.processes.values():
                    code = process.running.poll() if process.running else None
                    if code is None or not process.supervised:
                        continue
                    now = time.monotonic()
                    delay, last = backoff.get(process.name, (self.delay_s, 0.0))
                    delay = min(10.0, delay * 2) if now - last < 60 else self.delay_s
                    backoff[process.name] = (delay, now)
                    if not process.killed:
                        process.unplanned_exits.append(f"exit {code} at {clock()}")
                        self.log(f"{process.name} exited with code {code}; restarting")
                    process.running = None
                    threading.Timer(delay, self._restart, [process]).start()

    def _restart(self, process: Process) -> None:
        with self.lock:
            if process.supervised and process.running is None:
                self._start(process)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int | None:
        """Signal a process's group; its exit is then planned (the supervisor restarts it)."""
        with self.lock:
            process = self.processes[name]
            if process.running is None or process.running.poll() is not None:
                return None
            process.killed = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.running.pid, sig)
            return process.running.pid

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout_s: float = 60) -> int | None:
        """Stop supervising `name` and end it with `sig` (SIGKILL after `timeout_s`)."""
        with self.lock:
            process = self.processes[name]
            process.supervised = False
        if process.running is None or process.running.poll() is not None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.running.pid, sig)
        try:
            return process.running.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.running.pid, signal.SIGKILL)
            return process.running.wait(30)

    def shutdown(self) -> None:
        self.stopping.set()
        self.join(5)
        for name in list(self.processes):
            self.stop(name, signal.SIGKILL, 30)


class Traffic(threading.Thread):
    """The simulated ad server: seeded records at `rate_per_s` simulator steps a second, their
    event times following the wall clock; every record sent is kept (the oracle's input)."""

    def __init__(self, settings: Settings, seed: int, rate_per_s: float, bad_ratio: float):
        super().__init__(daemon=True, name="chaos-traffic")
        self.settings = settings
        self.base_bad_ratio = bad_ratio
        self.records = simulator(settings, seed=seed, rate_per_s=rate_per_s, bad_ratio=bad_ratio)
        self.sent: list[SimulatedRecord] = []
        self.failures: list[str] = []
        self.stopping = threading.Event()
        self.burst_until = 0.0

    def run(self) -> None:
        out = producer(self.settings, **QUIET_PRODUCER)
        topics = {key: topic.name for key, topic in self.settings.kafka.topics.items()}

        def delivered(err, _message) -> None:
            if err is not None:
                self.failures.append(str(err))

        for record in self.records:
            if self.stopping.is_set():
                break
            bursting = time.monotonic() < self.burst_until
            self.records.bad_ratio = BURST_BAD_RATIO if bursting else self.base_bad_ratio
            while self.records.clock > datetime.now(UTC) and not self.stopping.is_set():
                time.sleep(0.01)
                out.poll(0)
            while True:
                try:
                    out.produce(topics[record.topic], value=record.value, key=record.key,
                                on_delivery=delivered)  # fmt: skip
                    break
                except BufferError:
                    out.poll(0.1)
            self.sent.append(record)
        # A broker restart only delays deliveries: the idempotent producer retries them.
        left = out.flush(120)
        if left:
            self.failures.append(f"{left} records not delivered in 120 s")

    def burst(self) -> None:
        self.burst_until = time.monotonic() + BURST_SECONDS

    def finish(self) -> list[SimulatedRecord]:
        self.stopping.set()
        self.join(180)
        assert not self.failures, f"ad events not delivered: {self.failures[:3]}"
        return self.sent


def clock() -> str:
    return datetime.now(UTC).strftime("%H:%M:%S")


# --- where each job stands, from its checkpoint ------------------------------------------


def _batch_files(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())


def progress(settings: Settings, job: str) -> tuple[int, int]:
    """(newest planned, newest committed) micro-batch of a job's checkpoint; -1: none."""
    root = Path(settings.checkpoint_uri(getattr(settings.jobs, job).query_name))
    planned, committed = _batch_files(root / "offsets"), _batch_files(root / "commits")
    return (planned[-1] if planned else -1, committed[-1] if committed else -1)


def query_started(settings: Settings, job: str) -> bool:
    """Whether the job's query runs (Spark writes the checkpoint's metadata when it starts)."""
    query = getattr(settings.jobs, job).query_name
    return (Path(settings.checkpoint_uri(query)) / "metadata").exists()


def describe(settings: Settings, job: str) -> str:
    planned, committed = progress(settings, job)
    if planned > committed:
        return f"batch {planned} in flight"
    return f"idle after batch {committed}" if committed >= 0 else "starting"


def committed_offsets(settings: Settings, job: str) -> dict[tuple[str, int], int]:
    """The Kafka offsets a job's newest committed batch read up to."""
    root = Path(settings.checkpoint_uri(getattr(settings.jobs, job).query_name))
    _, committed = progress(settings, job)
    if committed < 0:
        return {}
    offsets: dict[tuple[str, int], int] = {}
    lines = (root / "offsets" / str(committed)).read_text().splitlines()
    for line in lines[2:]:  # a version line, the batch's metadata, then one line per source
        for topic, partitions in json.loads(line).items():
            offsets.update({(topic, int(p)): offset for p, offset in partitions.items()})
    return offsets


def end_offsets(settings: Settings, topic_keys: tuple[str, ...]) -> dict[tuple[str, int], int]:
    consumer = Consumer(client_config(settings, **{"group.id": "brandlake-chaos"}))
    try:
        ends = {}
        for key in topic_keys:
            topic = settings.kafka.topics[key].name
            metadata = consumer.list_topics(topic, timeout=30).topics[topic]
            for partition in metadata.partitions:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), 30)
                ends[(topic, partition)] = high
        return ends
    finally:
        consumer.close()


def lag(settings: Settings, job: str) -> int:
    """Records in the job's topics that its committed batches have not read."""
    done = committed_offsets(settings, job)
    ends = end_offsets(settings, JOB_INPUTS[job])
    return sum(max(0, end - done.get(key, 0)) for key, end in ends.items())


# --- the faults ---------------------------------------------------------------------------


def _processes() -> dict[int, tuple[int, int, int, bytes]]:
    """pid -> (parent, process group, CPU ticks so far, command line) of every process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            ticks = int(fields[11]) + int(fields[12])  # utime + stime
            found[int(entry.name)] = (int(fields[1]), int(fields[2]), ticks, cmdline)
    return found


def python_workers(group: int) -> dict[int, int]:
    """The Python workers of the Spark driver in process group `group` (the children of the
    PySpark daemon its JVM started; the daemon leads a group of its own): pid -> CPU ticks."""
    processes = _processes()
    daemons = {
        pid
        for pid, (parent, _, _, cmdline) in processes.items()
        if b"pyspark.daemon" in cmdline and processes.get(parent, (0, 0, 0, b""))[1] == group
    }
    return {pid: p[2] for pid, p in processes.items() if p[0] in daemons}


def busy_python_worker(group: int, rng: random.Random, timeout_s: float = 10.0) -> int | None:
    """A worker that is running a task (it used CPU in the last 0.2 s), waiting up to
    `timeout_s` for one; else any worker; None when there is none."""
    deadline = time.monotonic() + timeout_s
    before = python_workers(group)
    while before:
        time.sleep(0.2)
        after = python_workers(group)
        busy = sorted(pid for pid, ticks in after.items() if ticks > before.get(pid, ticks))
        if busy or time.monotonic() > deadline:
            return rng.choice(busy or sorted(after)) if after else None
        before = after
    return None


def unreadable_segment(settings: Settings, stream_id: str, number: int, rng: random.Random):
    """A segment event whose file holds bytes no decoder reads, announced as ingest would;
    returns the event's payload (the quarantine must hold it). On a stream of its own: ingest
    resumes a stream after the highest sequence the topic holds for it."""
    landing = Path(settings.landing_uri(stream_id))
    landing.mkdir(parents=True, exist_ok=True)
    path = landing / f"unreadable-{number:03d}.ts"
    path.write_bytes(rng.randbytes(64 * 1024))
    media = settings.sample_media
    event = {
        "event_id": f"{stream_id}-unreadable-{number:03d}",
        "stream_id": stream_id,
        "sequence": 900_000 + number,
        "uri": path.resolve().as_uri(),
        "start_time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "duration_s": settings.ingest.segment_seconds,
        "width": media.width,
        "height": media.height,
        "fps": float(media.fps),
        "codec": "h264",
        "bytes": path.stat().st_size,
    }
    payload = json.dumps(event).encode()
    out = producer(settings, **QUIET_PRODUCER)
    out.produce(settings.kafka.topics["segments"].name, key=stream_id.encode(), value=payload)
    assert out.flush(60) == 0, "the unreadable segment's event was not delivered"
    return payload


@dataclass
class FaultRecord:
    at: str
    kind: str
    target: str
    running: str  # what the target was doing when struck
    outcome: str


@dataclass
class Pipeline:
    """The live pipeline of one chaos run and the faults it can suffer."""

    settings: Settings
    stack: Settings  # the embedded services' settings (their run directory)
    video: Path
    stream_id: str
    folder: Path
    seed: int
    job_overrides: dict[str, str] = field(default_factory=dict)  # BRANDLAKE_... for the jobs
    log: Callable[[str], None] = print
    supervisor: Supervisor = field(init=False)
    traffic: Traffic | None = None
    unreadable: list[bytes] = field(default_factory=list)
    faults: list[FaultRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(self.log)
        self.rng = random.Random(self.seed)

    def start(self, rate_per_s: float, bad_ratio: float, timeout_s: float) -> None:
        """Start the jobs; once their queries run (frame_analysis has loaded its models), the
        live input: a backlog from the minute the models take to load would only slow the
        first batches, and the faults belong to a pipeline that keeps up."""
        for job in JOBS:
            log_path = self.folder / f"{job}.log"
            self.supervisor.add(
                job,
                lambda j=job, p=log_path: start_job(j, self.settings, p, env=self.job_overrides),
            )
        self.supervisor.start()
        self.wait_until(lambda: all(query_started(self.settings, j) for j in JOBS),
                        "the three queries started", timeout_s)  # fmt: skip
        self.supervisor.add(INGEST, self._ingest)
        self.traffic = Traffic(self.settings, self.seed, rate_per_s, bad_ratio)
        self.traffic.start()

    def _ingest(self) -> subprocess.Popen:
        command = [BRANDLAKE, "ingest", "file", str(self.video),
                   "--stream-id", self.stream_id, "--realtime", "--loop"]  # fmt: skip
        with open(self.folder / "ingest.log", "ab") as log:
            return subprocess.Popen(
                command, env=job_env(None, self.settings), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def strike(self, fault: PlannedFault) -> FaultRecord:
        """Inject one fault; returns what was done to what, and what it was doing."""
        target, running = fault.target, ""
        if fault.kind in ("kill_job", "kill_python_worker"):
            running = describe(self.settings, target)
        if fault.kind == "kill_job":
            pid = self.supervisor.kill(target)
            outcome = f"SIGKILL process group {pid}" if pid else "was restarting: not running"
        elif fault.kind == "kill_ingest":
            pid = self.supervisor.kill(INGEST)
            outcome = f"SIGKILL process group {pid} (ffmpeg with it)" if pid else "not running"
        elif fault.kind in ("restart_broker", "restart_redis"):
            name = fault.kind.removeprefix("restart_")
            started = time.monotonic()
            services.restart(self.stack, name, log=lambda message: None)
            outcome = f"down and back in {time.monotonic() - started:.1f} s"
        elif fault.kind == "kill_python_worker":
            process = self.supervisor.processes[target].running
            alive = process is not None and process.poll() is None
            victim = busy_python_worker(process.pid, self.rng) if alive else None
            if victim:
                os.kill(victim, signal.SIGKILL)
                outcome = f"SIGKILL Python worker {victim}"
            else:
                outcome = "no Python worker running: nothing killed"
        elif fault.kind == "unreadable_segment":
            number = len(self.unreadable)
            self.unreadable.append(
                unreadable_segment(self.settings, UNREADABLE_STREAM, number, self.rng)
            )
            outcome = f"announced unreadable-{number:03d}.ts on {UNREADABLE_STREAM}"
        else:
            assert fault.kind == "malformed_burst", fault.kind
            self.traffic.burst()
            outcome = f"{BURST_SECONDS:g} s at {BURST_BAD_RATIO:.0%} malformed"
        record = FaultRecord(clock(), fault.kind, target, running, outcome)
        self.faults.append(record)
        self.log(f"fault {len(self.faults)}: {record.kind} {record.target} "
                 f"({record.running or '-'}): {record.outcome}")  # fmt: skip
        return record

    def wait_until(self, done: Callable[[], bool], what: str, timeout_s: float) -> None:
        """Wait for `done`, failing after `timeout_s` or as soon as a process keeps crashing
        (a job that fails every batch never catches up: say so, not 10 minutes later)."""
        deadline = time.monotonic() + timeout_s
        while not done():
            late = time.monotonic() > deadline
            assert not late, f"{what}: not within {timeout_s:.0f} s\n{self.logs()}"
            looping = [name for name, p in self.supervisor.processes.items()
                       if len(p.unplanned_exits) >= CRASH_LOOP]  # fmt: skip
            assert not looping, f"{what}: {', '.join(looping)} keep crashing\n{self.logs(40)}"
            time.sleep(0.5)

    def finish(self, timeout_s: float) -> list[SimulatedRecord]:
        """Stop the traffic and ingest (cleanly), wait until every job has read everything,
        stop the jobs; returns the records sent."""
        sent = self.traffic.finish()
        self.supervisor.stop(INGEST, signal.SIGINT)
        for jobs in (("bronze_ingest", "frame_analysis"), ("exposure_revenue",)):
            for job in jobs:
                self.wait_until(lambda j=job: lag(self.settings, j) == 0, f"{job} caught up",
                                timeout_s)  # fmt: skip
        self.supervisor.shutdown()
        return sent

    def logs(self, lines: int = 15) -> str:
        return "\n".join(
            f"--- {path.name}\n{services.tail(path, lines)}"
            for path in sorted(self.folder.glob("*.log"))
        )

    def table(self) -> str:
        """The faults injected and every process's restarts, as an aligned table."""
        rows = [("#", "time", "fault", "target", "was", "done")]
        rows += [(str(n), f.at, f.kind, f.target, f.running or "-", f.outcome)
                 for n, f in enumerate(self.faults, 1)]  # fmt: skip
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
                 for row in rows]  # fmt: skip
        for process in self.supervisor.processes.values():
            exits = "; ".join(process.unplanned_exits) or "none"
            lines.append(f"{process.name}: started {process.starts}x; exits not planned: {exits}")
        return "\n".join(lines)


# --- the lake and the live state, comparable ----------------------------------------------

CRASH_LOOP = 5  # unplanned exits of one process that fail the run at once

# Columns that say when or in which batch a row was written, not what it holds.
WRITTEN_WHEN = {"ingest_time", "ingest_date", "analysed_at", "updated_at", "batch_id"}


def comparable_rows(settings: Settings, name: str) -> list[tuple]:
    """A table's rows, sorted, without the columns that depend on when they were written;
    floats to 9 digits (sums over files in another order differ in the last bit)."""
    table = read_table(settings, name)
    table = table.drop_columns([c for c in table.column_names if c in WRITTEN_WHEN])
    return sorted((_normalise(row) for row in table.to_pylist()), key=repr)


def _normalise(value):
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return tuple(sorted((k, _normalise(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_normalise(v) for v in value)
    return value


LIVE_KEYS = (
    "brandlake:live:*",
    "brandlake:exposure:*",
    "brandlake:mentions:*",
    "brandlake:revenue:*",
    "brandlake:audience:*",
)


def live_state(client) -> dict[str, dict[str, str]]:
    """Every live-state hash, without what says when or by which batch it was written."""
    state = {}
    for pattern in LIVE_KEYS:
        for key in client.scan_iter(pattern):
            fields = client.hgetall(key)
            fields.pop("updated_at", None)
            fields.pop("_batch_id", None)
            state[key] = fields
    return state


def clear_live_state(client) -> None:
    for pattern in LIVE_KEYS:
        keys = list(client.scan_iter(pattern))
        if keys:
            client.delete(*keys)


@contextlib.contextmanager
def timed(log: Callable[[str], None], what: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    log(f"{what}: {time.monotonic() - started:.0f} s")
