"""Detections pushed to players as frames are analysed: Server-Sent Events from the media server.

Why SSE, not WebSocket: the overlay only flows one way (server to player), SSE is plain HTTP
(proxies, the dashboard's token cookie and curl work as for the other requests), and the
browser's EventSource reconnects by itself. The polling path (`/detections/<stream>`) stays for
history: a player that joins, seeks back or reconnects fetches the window it plays.

One Kafka consumer per media server reads the `detections` topic from its end (frame_analysis
publishes a frame's message right after its Delta commit), and one writer thread serves every
connected player from non-blocking sockets: a connection costs a buffer, not a thread, so the
server's bounded request pool is not held by listeners. A player too slow to take what it is
sent (`MAX_BUFFER` bytes pending) is dropped; its EventSource reconnects and polls the gap.

Each event is one analysed frame: `{"t": epoch ms, "boxes": [...]}` as the polling endpoint
gives it, brand boxes only (the topic's messages carry people as a count; the next poll brings
their boxes), plus `frame_id` and `published_ms` (when frame_analysis published it).
"""

from __future__ import annotations

import contextlib
import json
import logging
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field

from jobs.common.config import Settings
from jobs.common.kafka import client_config

log = logging.getLogger("brandlake.dashboard")

MAX_BUFFER = 1 << 20  # bytes pending for one player before it is dropped
KEEPALIVE_S = 15.0  # a comment line this often keeps idle connections (and proxies) open


@dataclass
class _Player:
    sock: socket.socket
    stream_id: str
    pending: bytearray = field(default_factory=bytearray)


def frame_event(message: dict, published_ms: int) -> bytes:
    """The SSE event of one `detections`-topic frame message."""
    boxes = [
        {"kind": "brand", "label": b["brand_id"], "confidence": round(b["confidence"], 3),
         **dict(zip(("x1", "y1", "x2", "y2"), b["box"], strict=True))}
        for b in message.get("brands", [])
    ]  # fmt: skip
    body = {"t": message["frame_epoch_ms"], "boxes": boxes, "frame_id": message["frame_id"],
            "published_ms": published_ms}  # fmt: skip
    return f"id: {message['frame_id']}\nevent: frame\ndata: {json.dumps(body)}\n\n".encode()


class FramePush:
    """The Kafka reader and the writer thread (see above); `attach` hands it a player's socket
    once the response headers are sent."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._players: dict[int, _Player] = {}
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._stopping = threading.Event()
        self.ready = threading.Event()  # set once the reader has its partitions: frames flow
        self._threads = [
            threading.Thread(target=self._read_kafka, name="push-kafka", daemon=True),
            threading.Thread(target=self._write, name="push-writer", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def players(self) -> int:
        with self._lock:
            return len(self._players)

    def attach(self, sock: socket.socket, stream_id: str) -> None:
        sock.setblocking(False)
        with self._lock:
            self._players[sock.fileno()] = _Player(sock, stream_id, bytearray(b": hello\n\n"))
        self._wake()

    def stop(self) -> None:
        self._stopping.set()
        self._wake()
        for thread in self._threads:
            thread.join(10)
        with self._lock:
            for player in self._players.values():
                player.sock.close()
            self._players.clear()

    def broadcast(self, stream_id: str, event: bytes) -> None:
        with self._lock:
            for fd, player in list(self._players.items()):
                if player.stream_id != stream_id:
                    continue
                if len(player.pending) + len(event) > MAX_BUFFER:
                    log.info("push: a player of %s is too slow; dropped", stream_id)
                    self._drop(fd)
                    continue
                player.pending += event
        self._wake()

    def _wake(self) -> None:
        # the pair full: a wake-up is pending anyway; closed: stopping
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _read_kafka(self) -> None:
        from confluent_kafka import Consumer

        consumer = Consumer(client_config(self.settings, **{
            "group.id": f"brandlake-media-push-{id(self)}", "auto.offset.reset": "latest",
            "enable.auto.commit": False,
        }))  # fmt: skip

        def from_the_end(consumer, partitions) -> None:
            # fix where reading starts now, not at the first fetch: a frame published right
            # after `ready` is not skipped
            for partition in partitions:
                partition.offset = consumer.get_watermark_offsets(partition, timeout=10)[1]
            consumer.assign(partitions)
            self.ready.set()

        consumer.subscribe([self.settings.kafka.topics["detections"].name], on_assign=from_the_end)
        try:
            while not self._stopping.is_set():
                for message in consumer.consume(500, timeout=0.05):  # returns at the timeout
                    if message.error() is not None:
                        continue
                    try:
                        frame = json.loads(message.value())
                        event = frame_event(frame, message.timestamp()[1])
                    except (ValueError, KeyError, TypeError):
                        continue  # not a frame message: the consumers downstream quarantine it
                    self.broadcast(frame["stream_id"], event)
        except Exception:
            log.exception("push: the detections reader stopped; players fall back to polling")
        finally:
            consumer.close()

    def _write(self) -> None:
        last_keepalive = time.monotonic()
        while not self._stopping.is_set():
            with self._lock:
                for fd, player in list(self._players.items()):
                    if player.pending:
                        self._send(fd, player)
                watched = dict(self._players)
            self._select(watched)
            if time.monotonic() - last_keepalive > KEEPALIVE_S:
                with self._lock:
                    for player in self._players.values():
                        player.pending += b": keepalive\n\n"
                last_keepalive = time.monotonic()

    def _select(self, watched: dict[int, _Player]) -> None:
        """Sleep until a socket with pending bytes can take more, a player hangs up (a player
        sends nothing after its request: a readable socket is one that closed), a new event or
        player arrives, or a second passes."""
        registered = []
        for player in watched.values():
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if player.pending else 0)
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.register(player.sock, events, player)
                registered.append(player.sock)
        try:
            for key, events in self._selector.select(timeout=1.0):
                if key.fileobj is self._wake_r:
                    with contextlib.suppress(BlockingIOError):
                        while self._wake_r.recv(4096):
                            pass
                elif events & selectors.EVENT_READ:
                    self._hang_up(key.data)
        finally:
            for sock in registered:
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(sock)

    def _hang_up(self, player: _Player) -> None:
        try:
            closed = player.sock.recv(1024) == b""
        except BlockingIOError:
            closed = False
        except OSError:
            closed = True
        if closed:
            with self._lock:
                for fd, known in list(self._players.items()):
                    if known is player:
                        self._drop(fd)

    def _send(self, fd: int, player: _Player) -> None:
        try:
            sent = player.sock.send(player.pending)
        except BlockingIOError:
            return
        except OSError:  # the player went away
            self._drop(fd)
            return
        del player.pending[:sent]

    def _drop(self, fd: int) -> None:
        player = self._players.pop(fd, None)
        if player is not None:
            with contextlib.suppress(OSError):
                player.sock.close()
