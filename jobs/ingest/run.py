"""`brandlake ingest rtmp|file`: run ffmpeg into HLS and announce segments as they finish.

brandlake ingest rtmp --stream-id arena-live [--listen rtmp://127.0.0.1:1935/live/KEY] [--once]
brandlake ingest file PATH --stream-id arena-live [--realtime] [--loop]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from jobs.common import metrics
from jobs.common.config import Settings, add_set_option, parse_overrides
from jobs.common.kafka import check_broker, client_config
from jobs.entrypoint import command_settings
from jobs.ingest.announcer import SegmentAnnouncer
from jobs.ingest.ffmpeg import hls_command, start_number
from jobs.ingest.storage import segment_store, spool_dir

log = logging.getLogger("brandlake.ingest")


class IngestError(RuntimeError):
    """Ingest stopped: unreadable input, ffmpeg failure or a full disk. Segments finished
    before it were announced."""


@dataclass(frozen=True)
class IngestResult:
    stream_id: str
    announced: int
    last_sequence: int
    landing: Path


def ingest(
    settings: Settings,
    stream_id: str,
    source: list[str],
    transcode: bool,
    realtime: bool = False,
    sessions: int | None = 1,
) -> IngestResult:
    """Run ffmpeg on `source` until it ends, `sessions` times (None: until stopped)."""
    out_dir = spool_dir(settings, stream_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    check_broker(client_config(settings))
    metrics.serve(settings, f"ingest-{stream_id}")
    _check_free_space(settings, out_dir)
    announcer = SegmentAnnouncer(settings, stream_id, out_dir, segment_store(settings))
    # What a crashed run finished but did not announce goes out first.
    announcer.scan()
    logfile = Path(settings.run_dir) / "logs" / f"ingest-{stream_id}.log"
    logfile.parent.mkdir(parents=True, exist_ok=True)
    done = 0
    while sessions is None or done < sessions:
        first = start_number(out_dir, announcer.last_sequence)
        command = hls_command(source, out_dir, settings.ingest, transcode, realtime, first)
        log.info("%s: ffmpeg %s -> %s", stream_id, " ".join(source), out_dir)
        returncode = _run_ffmpeg(command, logfile, announcer, settings, out_dir)
        announcer.scan()
        done += 1
        if returncode != 0:
            raise IngestError(
                f"ffmpeg stopped with code {returncode} reading {source[-1]}: "
                f"{last_lines(logfile)} (full log: {logfile}). Segments finished before that "
                f"were announced ({announcer.announced}); the last is #{announcer.last_sequence}."
            )
        if sessions is None or done < sessions:
            log.info("%s: publisher gone; waiting for the next one", stream_id)
    return IngestResult(stream_id, announcer.announced, announcer.last_sequence, out_dir)


def _run_ffmpeg(command, logfile: Path, announcer, settings: Settings, out_dir: Path) -> int:
    with open(logfile, "ab") as log_out:
        log_out.write(f"\n$ {' '.join(command)}\n".encode())
        log_out.flush()
        process = subprocess.Popen(command, stdout=log_out, stderr=subprocess.STDOUT)
        metrics.FFMPEG_STARTS.labels(announcer.stream_id).inc()
        try:
            while process.poll() is None:
                announcer.scan()
                _check_free_space(settings, out_dir, process)
                time.sleep(settings.ingest.poll_interval_s)
        except BaseException as stopped:
            # Ctrl-C, a full disk, Kafka down: let ffmpeg close the playlist, then stop.
            _stop_ffmpeg(process, interrupted=isinstance(stopped, KeyboardInterrupt))
            if isinstance(stopped, KeyboardInterrupt):
                announcer.scan()  # a clean stop also announces the segments ffmpeg closed
            raise
    return process.returncode


def _stop_ffmpeg(process: subprocess.Popen, interrupted: bool) -> None:
    """Stop ffmpeg so that it finishes its segment and playlist. A Ctrl-C (or SIGINT to the
    process group) reached ffmpeg too: a second SIGINT would make it abort its writes and
    leave an empty playlist, so it gets one only if it is still running 2 s later."""
    if interrupted:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(2)
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


def _check_free_space(settings: Settings, out_dir: Path, process=None) -> None:
    free = shutil.disk_usage(out_dir).free
    metrics.FREE_BYTES.labels(out_dir.name).set(free)
    free_mb = free // 2**20
    if free_mb < settings.ingest.min_free_mb:
        if process is not None:
            process.send_signal(signal.SIGINT)
            process.wait(15)
        raise IngestError(
            f"only {free_mb} MB free under {out_dir}, below ingest.min_free_mb="
            f"{settings.ingest.min_free_mb}: free disk space (older segments can go to an "
            "object store) or lower the threshold"
        )


def last_lines(logfile: Path, lines: int = 3) -> str:
    text = logfile.read_text(errors="replace").strip().splitlines() if logfile.exists() else []
    return " | ".join(line.strip() for line in text[-lines:]) or "no output"


def main(argv: list[str] | None = None) -> IngestResult:
    parser = argparse.ArgumentParser(prog="brandlake ingest", description=__doc__.split("\n")[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    rtmp = modes.add_parser("rtmp", help="wait for an RTMP publisher (OBS, an encoder, ffmpeg)")
    rtmp.add_argument("--listen", help="rtmp://HOST:PORT/APP/KEY (default: ingest.listen)")
    rtmp.add_argument("--once", action="store_true", help="stop when the publisher disconnects")
    rtmp.add_argument(
        "--transcode",
        action="store_true",
        help="re-encode to H.264 with a keyframe every segment (default: copy the publisher's)",
    )
    file = modes.add_parser("file", help="ingest a video file")
    file.add_argument("path", type=Path)
    file.add_argument("--realtime", action="store_true", help="pace at the video's own speed")
    file.add_argument(
        "--loop",
        action="store_true",
        help="play the file over and over until stopped (a test channel, a looped slate)",
    )
    for sub in (rtmp, file):
        sub.add_argument("--stream-id", required=True)
        add_set_option(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    settings = command_settings(parse_overrides(args.set))
    try:
        if args.mode == "file":
            if not args.path.is_file():
                raise IngestError(f"no such video file: {args.path}")
            loop = ["-stream_loop", "-1"] if args.loop else []
            source = [*loop, "-i", str(args.path.resolve())]
            return ingest(settings, args.stream_id, source, transcode=True, realtime=args.realtime)
        url = args.listen or settings.ingest.listen.format(stream_id=args.stream_id)
        log.info("%s: waiting for a publisher at %s", args.stream_id, url)
        sessions = 1 if args.once else None
        listen = ["-listen", "1", "-i", url]
        return ingest(settings, args.stream_id, listen, args.transcode, False, sessions)
    except KeyboardInterrupt:
        log.info("%s: stopped; every segment ffmpeg finished is announced", args.stream_id)
        raise SystemExit(130) from None  # the shell's code for a Ctrl-C
