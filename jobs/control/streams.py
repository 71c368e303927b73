"""`brandlake streams`: the catalog's channels, their ingest and how each is analysed.

    brandlake streams list
    brandlake streams mode arena-live realtime [--by alice]
    brandlake streams start arena-live --file match.mp4 [--loop] [--realtime] [--by alice]
    brandlake streams start arena-live --rtmp [--listen rtmp://127.0.0.1:1935/live/KEY]
    brandlake streams stop arena-live [--by alice]
    brandlake streams supervise
    brandlake streams reprocess arena-live

`list` prints each stream's ingest (run by the supervisor), its processing mode (since when,
set by whom: `ops.stream_control`) and how far its analysis has come (the latest analysed frame
in Redis, and how long ago that frame was shown). `mode` records a switch; frame_analysis
applies it from the stream's next segment, without a restart (`jobs/control/modes.py`).
`start` and `stop` record an ingest request, which `supervise` applies
(`jobs/control/supervisor.py`). `reprocess` analyses the segments the stream recorded in the
deferred `batch` mode, then stops.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

from jobs.common.config import Settings, add_set_option, parse_overrides
from jobs.common.lake import OpenTables
from jobs.common.live_state import LIVE_KEY, redis_client, redis_url
from jobs.control.modes import ControlError, read_schedule, set_mode
from jobs.control.supervisor import (
    Supervisor,
    describe_source,
    ingest_states,
    request_start,
    request_stop,
)

log = logging.getLogger("brandlake.control")


def stream_states(settings: Settings) -> list[dict]:
    """Per catalog stream: its ingest, its mode (since when, by whom) and analysis progress."""
    schedule = read_schedule(OpenTables(settings))
    analysed = _latest_frames(settings, [s.stream_id for s in settings.catalog.streams])
    try:
        _, ingests = ingest_states(settings)
    except Exception:  # _latest_frames has said Redis is unavailable
        ingests = {}
    now = datetime.now(UTC)
    states = []
    for stream in settings.catalog.streams:
        mode, since, by = schedule.current(stream.stream_id)
        frame_time = analysed.get(stream.stream_id)
        states.append({
            "stream_id": stream.stream_id,
            "ingest": ingests.get(stream.stream_id, {}).get("source"),
            "mode": mode,
            "since": since,
            "by": by,
            "analysed_up_to": frame_time,
            "behind_s": (now - frame_time).total_seconds() if frame_time else None,
        })  # fmt: skip
    return states


def _latest_frames(settings: Settings, streams: list[str]) -> dict[str, datetime]:
    """The latest analysed frame's time per stream, from Redis; none when it is unreachable."""
    try:
        client = redis_client(redis_url(settings))
        found = {s: client.hget(LIVE_KEY.format(stream_id=s), "frame_time") for s in streams}
    except Exception as error:  # the listing is still useful without it
        log.warning("live state unavailable (%s): analysis progress not shown", error)
        return {}
    return {s: datetime.fromisoformat(v) for s, v in found.items() if v}


def print_states(states: list[dict]) -> None:
    header = (f"{'stream':14} {'ingest':30} {'mode':9} {'since':20} {'by':12} "
              f"{'analysed up to':20} behind")  # fmt: skip
    print(header)
    print("-" * len(header))
    for s in states:
        since = s["since"].strftime("%Y-%m-%d %H:%M:%S") if s["since"] else "(default)"
        upto = s["analysed_up_to"].strftime("%Y-%m-%d %H:%M:%S") if s["analysed_up_to"] else "-"
        behind = f"{s['behind_s']:.1f} s" if s["behind_s"] is not None else "-"
        ingest = (s["ingest"] or "-")[-30:]
        print(f"{s['stream_id']:14} {ingest:30} {s['mode']:9} {since:20} {s['by'] or '-':12} "
              f"{upto:20} {behind}")  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="brandlake streams", description=__doc__.split("\n")[0])
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="each stream's ingest, mode and analysis progress")
    switch = actions.add_parser("mode", help="set a stream's processing mode")
    switch.add_argument("stream_id")
    switch.add_argument("mode")
    start = actions.add_parser("start", help="ask for a stream's ingest (the supervisor runs it)")
    start.add_argument("stream_id")
    source = start.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", type=Path, help="a video file to ingest")
    source.add_argument("--rtmp", action="store_true", help="listen for an RTMP publisher")
    start.add_argument("--loop", action="store_true", help="--file: over and over until stopped")
    start.add_argument("--realtime", action="store_true", help="--file: at the video's speed")
    start.add_argument("--listen", help="--rtmp: rtmp://HOST:PORT/APP/KEY (default ingest.listen)")
    start.add_argument("--transcode", action="store_true", help="--rtmp: re-encode to H.264")
    stop = actions.add_parser("stop", help="ask for a stream's ingest to stop")
    stop.add_argument("stream_id")
    supervise = actions.add_parser("supervise", help="run the requested ingests until Ctrl-C")
    reprocess = actions.add_parser("reprocess", help="analyse a stream's deferred segments")
    reprocess.add_argument("stream_id")
    for sub in (switch, start, stop):
        sub.add_argument("--by", default=getpass.getuser(), help="who asks (the audit's name)")
    for sub in (listing, switch, start, stop, supervise, reprocess):
        add_set_option(sub)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    from jobs.entrypoint import command_settings

    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    settings = command_settings(parse_overrides(args.set))
    if args.action == "list":
        print_states(stream_states(settings))
    elif args.action == "supervise":
        set_args = [part for pair in args.set for part in ("--set", pair)]
        Supervisor(settings, set_args).run()
    elif args.action == "reprocess":
        from jobs.common.streaming import configure_logging
        from jobs.frame_analysis import reprocess

        configure_logging()
        reprocess(settings, args.stream_id)
    else:
        try:
            print(_request(settings, args))
        except ControlError as error:
            raise SystemExit(f"brandlake streams {args.action}: {error}") from None


def _request(settings: Settings, args: argparse.Namespace) -> str:
    """Record a mode switch, start or stop; what it means, to print."""
    if args.action == "mode":
        row = set_mode(settings, args.stream_id, args.mode, args.by)
        return (f"{row['stream_id']}: {row['value']} from {row['effective_from']:%H:%M:%S} UTC "
                f"(its next segment on), set by {row['requested_by']}")  # fmt: skip
    if args.action == "start":
        source = (
            {"kind": "file", "path": str(args.file), "loop": args.loop, "realtime": args.realtime}
            if args.file
            else {"kind": "rtmp", "listen": args.listen, "transcode": args.transcode}
        )
        row = request_start(settings, args.stream_id, source, args.by)
        said = f"{args.stream_id}: ingest of {describe_source(json.loads(row['value']))} requested"
    else:
        request_stop(settings, args.stream_id, args.by)
        said = f"{args.stream_id}: ingest stop requested"
    return said + _supervisor_note(settings)


def _supervisor_note(settings: Settings) -> str:
    try:
        supervised, _ = ingest_states(settings)
    except Exception as error:
        return f" (whether a supervisor runs is unknown: {error})"
    if supervised:
        return f"; the supervisor applies it within {settings.ingest.supervise_interval_s:g} s"
    return "; no supervisor is running: `brandlake streams supervise` applies it when started"


if __name__ == "__main__":
    main()
