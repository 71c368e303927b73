"""The viewers of `bench_viewers.py`, in a process of their own (so their reading does not slow
the server's): `python -m tests.perf.viewers_client URL STREAM,STREAM,... VIEWERS`.

Connects VIEWERS event streams spread over the streams, prints `ready`, collects frames until
its stdin closes, then prints one JSON line: per viewer its stream, the frame ids received and
the delivery delays (receipt minus the frame's publishing time, ms)."""

from __future__ import annotations

import json
import sys
import threading
import time

from tests.dashboards.test_overlay_push import Listener


def main() -> None:
    url, streams, viewers = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
    chosen = [streams[n % len(streams)] for n in range(viewers)]
    listeners = [(stream, Listener(f"{url}/events/{stream}")) for stream in chosen]
    deadline = time.monotonic() + 30
    while not all(listener.status for _, listener in listeners):
        if time.monotonic() > deadline:
            raise SystemExit("viewers not connected in 30 s")
        time.sleep(0.05)
    print("ready", flush=True)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait()
    report = [
        {"stream": stream, "frames": [f["frame_id"] for _, f in listener.frames],
         "delays": [received - f["published_ms"] for received, f in listener.frames]}
        for stream, listener in listeners
    ]  # fmt: skip
    for _, listener in listeners:
        listener.close()
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
