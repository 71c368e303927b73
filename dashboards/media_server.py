"""The dashboard's media server: the player page, hls.js, a stream's HLS files and its
detections as JSON, over plain HTTP on `dashboard.media_port`.

Streamlit serves only its own app, so the Live page embeds this server's player in an iframe.
The browser fetches the playlist and segments from the landing folder (or object store) here,
and the detections for the window around the playing time, which it draws over the video.
Everything is local: hls.js is the copy `make install` put under dashboards/node_modules.

Requests are served by a bounded pool of threads (`dashboard.media_threads`), segments are
streamed in chunks, and error responses never name files or tables. With
`dashboard.auth_token` set, the player page wants `?token=` and hands the browser a cookie
that its playlist, segment and detection requests then carry.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

from dashboards.data import DataUnavailableError, detections_between
from dashboards.overlay_push import FramePush
from jobs.common import metrics, object_store
from jobs.common.config import Settings
from schemas.events import RENDITIONS

log = logging.getLogger("brandlake.dashboard")

HERE = Path(__file__).parent
HLS_JS = HERE / "node_modules" / "hls.js" / "dist" / "hls.min.js"
PLAYER = HERE / "player"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")  # stream ids and segment file names
CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".js": "text/javascript; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".sse": "text/event-stream",
}
# The brand overlay colour; people get their own so the two read apart over any picture.
BOX_COLOURS = {"brand": "#00e5ff", "person": "#ffd60a"}
MAX_WINDOW = timedelta(minutes=10)  # the most detections one request may ask for
CHUNK_BYTES = 256 * 1024  # segments are streamed, never read whole into memory
TOKEN_COOKIE = "brandlake_token"
REQUEST_KINDS = ("assets", "player", "hls", "detections", "events")  # the metrics' `kind` label


class PooledHTTPServer(ThreadingHTTPServer):
    """An HTTP server whose requests run on a fixed pool of threads: a burst of players waits
    in line instead of starting a thread per connection."""

    def __init__(self, address: tuple[str, int], handler, threads: int) -> None:
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="media")
        self.push: FramePush | None = None  # pushed detections, when started with them
        self.handed_over: set[int] = set()  # sockets the push writer now owns
        super().__init__(address, handler)

    def process_request(self, request, client_address) -> None:
        self.pool.submit(self.process_request_thread, request, client_address)

    def shutdown_request(self, request) -> None:
        if id(request) in self.handed_over:  # an events stream: the push writer closes it
            self.handed_over.discard(id(request))
            return
        super().shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self.push is not None:
            self.push.stop()


@dataclass
class MediaServer:
    server: PooledHTTPServer
    thread: threading.Thread
    token: str = ""

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def player_url(self, stream_id: str, rendition: str = "source") -> str:
        """The player page of a stream's rendition (`blurred`: every face blurred)."""
        params = {"token": self.token} if self.token else {}
        if rendition != "source":
            params["rendition"] = rendition
        query = f"?{urlencode(params)}" if params else ""
        return f"{self.url}/player/{stream_id}{query}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start(settings: Settings, port: int | None = None) -> MediaServer:
    """Serve in a daemon thread on `dashboard.address`:`port` (default `dashboard.media_port`;
    0 picks a free port)."""
    if not HLS_JS.exists():
        raise FileNotFoundError(
            f"{HLS_JS} is missing: run `make install` (it runs `npm ci` in dashboards/)"
        )
    address = settings.dashboard.address
    port = settings.dashboard.media_port if port is None else port
    handler = type("Handler", (_Handler,), {"settings": settings})
    try:
        server = PooledHTTPServer((address, port), handler, settings.dashboard.media_threads)
    except OSError as error:
        raise OSError(
            f"the dashboard's media server cannot listen on {address}:{port} "
            f"({error}); set dashboard.media_port (BRANDLAKE_DASHBOARD__MEDIA_PORT) to a free port"
        ) from error
    server.daemon_threads = True
    if settings.dashboard.push_detections:
        server.push = FramePush(settings)
    thread = threading.Thread(target=server.serve_forever, name="media-server", daemon=True)
    thread.start()
    media = MediaServer(server, thread, settings.dashboard.auth_token)
    log.info("media server on %s", media.url)
    metrics.serve(settings, "media_server")
    return media


def player_page(settings: Settings, stream_id: str, rendition: str = "source") -> str:
    if rendition not in RENDITIONS:
        raise ValueError(f"rendition: one of {', '.join(RENDITIONS)}")
    config = {
        "stream": stream_id,
        # where the rendition's playlist is: the source's, or a folder beside it
        "playlist": "index.m3u8" if rendition == "source" else f"{rendition}/index.m3u8",
        "windowMs": round(settings.dashboard.overlay_window_s * 1000),
        "colours": BOX_COLOURS,
    }
    page = (PLAYER / "player.html").read_text()
    return page.replace("{{config}}", json.dumps(config)).replace("{{stream}}", stream_id)


class _Handler(BaseHTTPRequestHandler):
    settings: Settings
    server_version = "brandlake-media"

    def do_GET(self) -> None:
        url = urlparse(self.path)
        parts = [p for p in url.path.split("/") if p]
        self._token_given = False
        self._kind = parts[0] if parts and parts[0] in REQUEST_KINDS else "other"
        try:
            if not self._authorised(parse_qs(url.query)):
                self.send_error(
                    HTTPStatus.UNAUTHORIZED, explain="a valid dashboard token is needed"
                )
            elif parts == ["assets", "hls.min.js"]:
                self._send(HLS_JS.read_bytes(), ".js")
            elif parts == ["assets", "player.js"]:
                self._send((PLAYER / "player.js").read_bytes(), ".js")
            elif len(parts) == 2 and parts[0] == "player" and NAME.match(parts[1]):
                rendition = (parse_qs(url.query).get("rendition") or ["source"])[0]
                self._send(player_page(self.settings, parts[1], rendition).encode(), ".html")
            elif len(parts) == 3 and parts[0] == "hls" and all(map(NAME.match, parts[1:])):
                self._send_landing_file(parts[1], parts[2])
            elif (len(parts) == 4 and parts[0] == "hls" and parts[2] in RENDITIONS[1:]
                  and NAME.match(parts[1]) and NAME.match(parts[3])):  # fmt: skip
                self._send_landing_file(parts[1], f"{parts[2]}/{parts[3]}")
            elif len(parts) == 2 and parts[0] == "detections" and NAME.match(parts[1]):
                self._send_detections(parts[1], parse_qs(url.query))
            elif len(parts) == 2 and parts[0] == "events" and NAME.match(parts[1]):
                self._hand_over_events(parts[1])
            else:
                self.send_error(HTTPStatus.NOT_FOUND)
        # Error bodies never name files, folders or tables: the log has the details.
        except (FileNotFoundError, DataUnavailableError) as error:
            log.info("media server: %s: %s", self.path, error)
            self.send_error(HTTPStatus.NOT_FOUND, explain="no such stream, file or data yet")
        except ValueError as error:  # our own messages about the request's parameters
            self.send_error(HTTPStatus.BAD_REQUEST, explain=str(error))
        except Exception:  # an answer, not a dropped connection
            log.exception("media server: %s failed", self.path)
            self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR, explain="see the dashboard's log")

    def _authorised(self, query: dict[str, list[str]]) -> bool:
        """Without a configured token, everyone (the server is on loopback); with one, the
        request's `token` parameter or the cookie the player page set must match it."""
        expected = self.settings.dashboard.auth_token
        if not expected:
            return True
        given = (query.get("token") or [""])[0] or self._cookie(TOKEN_COOKIE)
        self._token_given = bool(query.get("token"))
        return hmac.compare_digest(given.encode(), expected.encode())

    def _cookie(self, name: str) -> str:
        for part in (self.headers.get("Cookie") or "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
        return ""

    def _send_landing_file(self, stream_id: str, name: str) -> None:
        suffix = Path(name).suffix  # `name`: a file, or <rendition>/<file>
        if suffix not in (".m3u8", ".ts", ".m4s", ".mp4"):
            raise FileNotFoundError(name)
        uri = f"{self.settings.landing_uri(stream_id)}/{name}"
        filesystem, path = object_store.filesystem(
            uri if "://" in uri else str(Path(uri).absolute()), self.settings.lake.storage_options
        )
        size = filesystem.get_file_info(path).size
        if size is None:
            raise FileNotFoundError(name)
        self._headers(suffix, size, cache=suffix != ".m3u8")
        with filesystem.open_input_stream(path) as stream:
            while chunk := stream.read(CHUNK_BYTES):
                self.wfile.write(chunk)

    def _send_detections(self, stream_id: str, query: dict[str, list[str]]) -> None:
        start, end = (_epoch_ms(query, key) for key in ("from", "to"))
        if end <= start or end - start > MAX_WINDOW:
            raise ValueError("need from < to, at most 10 minutes apart (epoch milliseconds)")
        frames = detections_between(self.settings, stream_id, start, end)
        body = {"stream": stream_id, "from": query["from"][0], "to": query["to"][0]}
        self._send(json.dumps({**body, "frames": frames}).encode(), ".json")

    def _hand_over_events(self, stream_id: str) -> None:
        """Start a Server-Sent Events response and give its socket to the push writer
        (`dashboards/overlay_push.py`), which sends the stream's frames as they are analysed."""
        if self.server.push is None:
            self.send_error(HTTPStatus.NOT_FOUND, explain="pushed detections are off")
            return
        self._headers(".sse", None, cache=False)
        self.wfile.flush()
        self.close_connection = True
        self.server.handed_over.add(id(self.connection))
        self.server.push.attach(self.connection, stream_id)

    def _send(self, body: bytes, suffix: str, cache: bool = False) -> None:
        self._headers(suffix, len(body), cache)
        self.wfile.write(body)

    def _headers(self, suffix: str, length: int | None, cache: bool) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", CONTENT_TYPES.get(suffix, "application/json"))
        if length is not None:  # an events stream has none: it lasts as long as the player
            self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
        if getattr(self, "_token_given", False):
            token = self.settings.dashboard.auth_token
            self.send_header("Set-Cookie", f"{TOKEN_COOKIE}={token}; HttpOnly; SameSite=Strict")
        self.end_headers()

    def send_response(self, code: int, message: str | None = None) -> None:
        metrics.MEDIA_REQUESTS.labels(getattr(self, "_kind", "other"), str(int(code))).inc()
        super().send_response(code, message)

    def log_message(self, format: str, *args) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def _epoch_ms(query: dict[str, list[str]], key: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(query[key][0]) / 1000, UTC)
    except (KeyError, ValueError, OverflowError) as error:
        raise ValueError(f"`{key}` must be epoch milliseconds") from error
