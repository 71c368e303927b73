"""`brandlake streams list|mode`: the catalog's streams, how each is analysed, and switching it.

    brandlake streams list
    brandlake streams mode arena-live realtime [--by alice]

`list` prints each stream's processing mode (since when, set by whom: `ops.stream_control`) and
how far its analysis has come (the latest analysed frame in Redis, and how long ago that frame
was shown). `mode` records a switch; frame_analysis applies it from the stream's next segment,
without a restart (`jobs/control/modes.py`).
"""

from __future__ import annotations

import argparse
import getpass
import logging
from datetime import UTC, datetime

from jobs.common.config import Settings, add_set_option, parse_overrides
from jobs.common.lake import OpenTables
from jobs.common.live_state import LIVE_KEY, redis_client, redis_url
from jobs.control.modes import ControlError, read_schedule, set_mode

log = logging.getLogger("brandlake.control")


def stream_states(settings: Settings) -> list[dict]:
    """Per catalog stream: its mode, since when and by whom, and its analysis progress."""
    schedule = read_schedule(OpenTables(settings))
    analysed = _latest_frames(settings, [s.stream_id for s in settings.catalog.streams])
    now = datetime.now(UTC)
    states = []
    for stream in settings.catalog.streams:
        mode, since, by = schedule.current(stream.stream_id)
        frame_time = analysed.get(stream.stream_id)
        states.append({
            "stream_id": stream.stream_id,
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
    header = f"{'stream':14} {'mode':9} {'since':20} {'by':12} {'analysed up to':20} behind"
    print(header)
    print("-" * len(header))
    for s in states:
        since = s["since"].strftime("%Y-%m-%d %H:%M:%S") if s["since"] else "(default)"
        upto = s["analysed_up_to"].strftime("%Y-%m-%d %H:%M:%S") if s["analysed_up_to"] else "-"
        behind = f"{s['behind_s']:.1f} s" if s["behind_s"] is not None else "-"
        print(f"{s['stream_id']:14} {s['mode']:9} {since:20} {s['by'] or '-':12} {upto:20} "
              f"{behind}")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    from jobs.entrypoint import command_settings

    parser = argparse.ArgumentParser(prog="brandlake streams", description=__doc__.split("\n")[0])
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="each stream's mode and analysis progress")
    switch = actions.add_parser("mode", help="set a stream's processing mode")
    switch.add_argument("stream_id")
    switch.add_argument("mode")
    switch.add_argument("--by", default=getpass.getuser(), help="who asks (the audit's name)")
    for sub in (listing, switch):
        add_set_option(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    settings = command_settings(parse_overrides(args.set))
    if args.action == "list":
        print_states(stream_states(settings))
        return
    try:
        row = set_mode(settings, args.stream_id, args.mode, args.by)
    except ControlError as error:
        raise SystemExit(f"brandlake streams mode: {error}") from None
    print(f"{row['stream_id']}: {row['value']} from {row['effective_from']:%H:%M:%S} UTC "
          f"(its next segment on), set by {row['requested_by']}")  # fmt: skip


if __name__ == "__main__":
    main()
