"""The media server over real HTTP: player page, hls.js, a stream's HLS files and detections."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest

from dashboards import media_server
from tests.dashboards.conftest import T0


@pytest.fixture
def server(small_lake):
    landing = Path(small_lake.landing_uri("arena-live"))
    landing.mkdir(parents=True)
    (landing / "index.m3u8").write_text("#EXTM3U\n#EXT-X-VERSION:3\n")
    (landing / "segment_00000.ts").write_bytes(b"G" * 188)
    (landing / "blurred").mkdir()
    (landing / "blurred" / "index.m3u8").write_text("#EXTM3U\n#EXT-X-VERSION:3\n# blurred\n")
    running = media_server.start(small_lake, port=0)
    yield running
    running.stop()


def get(server, path: str) -> tuple[int, str, bytes]:
    try:
        with urlopen(server.url + path, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def ms(seconds: float) -> int:
    return int((T0 + timedelta(seconds=seconds)).timestamp() * 1000)


def test_detections_of_a_window_come_per_analysed_frame(server):
    status, kind, body = get(server, f"/detections/arena-live?from={ms(1)}&to={ms(5)}")
    assert (status, kind) == (200, "application/json")
    frames = json.loads(body)["frames"]
    # Analysed frames at 1.5, 3.0 and 4.5 s; the one at 3.0 s has no boxes (clears the overlay).
    assert [f["t"] for f in frames] == [ms(1.5), ms(3.0), ms(4.5)]
    assert sorted(b["label"] for b in frames[0]["boxes"]) == ["fizzco", "person"]
    assert frames[1]["boxes"] == []
    assert frames[2]["boxes"] == [
        {"kind": "brand", "label": "aquapure", "confidence": 0.7,
         "x1": 0.6, "y1": 0.6, "x2": 0.8, "y2": 0.8}
    ]  # fmt: skip
    other = json.loads(get(server, f"/detections/studio-2?from={ms(0)}&to={ms(9)}")[2])
    assert other["frames"] == []


def test_landing_files_player_and_assets_are_served(server):
    status, kind, body = get(server, "/hls/arena-live/index.m3u8")
    assert (status, kind, body) == (
        200,
        "application/vnd.apple.mpegurl",
        b"#EXTM3U\n#EXT-X-VERSION:3\n",
    )
    assert get(server, "/hls/arena-live/segment_00000.ts")[:2] == (200, "video/mp2t")
    status, kind, body = get(server, "/player/arena-live")
    assert status == 200 and b'"stream": "arena-live"' in body and b"/assets/hls.min.js" in body
    status, _, body = get(server, "/assets/hls.min.js")
    assert status == 200 and len(body) > 100_000
    assert get(server, "/assets/player.js")[0] == 200


def test_the_faces_blurred_rendition_plays_from_its_own_playlist(server):
    status, _, body = get(server, "/hls/arena-live/blurred/index.m3u8")
    assert status == 200 and body.endswith(b"# blurred\n")
    assert server.player_url("arena-live", "blurred").endswith(
        "/player/arena-live?rendition=blurred"
    )
    status, _, page = get(server, "/player/arena-live?rendition=blurred")
    assert status == 200 and b'"playlist": "blurred/index.m3u8"' in page
    assert b'"playlist": "index.m3u8"' in get(server, "/player/arena-live")[2]
    assert get(server, "/player/arena-live?rendition=sepia")[0] == 400
    assert get(server, "/hls/arena-live/sepia/index.m3u8")[0] == 404


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/hls/arena-live/../../conf/base.yaml", 404),
        ("/hls/arena-live/%2e%2e%2fsecrets.ts", 404),
        ("/hls/arena-live/missing.ts", 404),
        ("/hls/arena-live/notes.txt", 404),
        ("/detections/arena-live?from=abc&to=1", 400),
        (f"/detections/arena-live?from={ms(5)}&to={ms(1)}", 400),
        ("/nothing", 404),
    ],
)
def test_bad_requests_get_clear_errors(server, path, status):
    assert get(server, path)[0] == status


def test_a_busy_port_is_a_clear_error(server, small_lake):
    port = server.server.server_address[1]
    with pytest.raises(OSError, match=r"dashboard\.media_port"):
        media_server.start(small_lake, port=port)


def test_errors_never_name_files_or_tables(lake_env):
    empty = lake_env()  # no tables: reading detections fails inside the server
    running = media_server.start(empty, port=0)
    try:
        for path in ("/hls/arena-live/missing.ts", "/detections/nowhere?from=1&to=2"):
            status, _, body = get(running, path)
            assert status == 404 and b"no such stream, file or data yet" in body
            assert empty.lake.root.encode() not in body and b"/tmp" not in body
    finally:
        running.stop()


def test_a_large_segment_streams_in_chunks_whole(server, small_lake):
    segment = bytes(range(256)) * (3 * media_server.CHUNK_BYTES // 256 + 7)
    Path(small_lake.landing_uri("arena-live"), "segment_00001.ts").write_bytes(segment)
    status, _, body = get(server, "/hls/arena-live/segment_00001.ts")
    assert status == 200 and body == segment


def test_requests_run_on_a_bounded_pool(server, small_lake):
    assert server.server.pool._max_workers == small_lake.dashboard.media_threads
    with ThreadPoolExecutor(max_workers=20) as clients:
        answers = list(clients.map(lambda _: get(server, "/assets/player.js")[0], range(40)))
    assert answers == [200] * 40


def test_with_a_token_only_the_token_or_its_cookie_gets_in(server, small_lake):
    conf = small_lake.dashboard.model_copy(update={"auth_token": "s3cret-token"})
    guarded = media_server.start(small_lake.model_copy(update={"dashboard": conf}), port=0)
    try:
        assert get(guarded, "/player/arena-live")[0] == 401
        assert get(guarded, "/hls/arena-live/index.m3u8?token=wrong")[0] == 401
        assert guarded.player_url("arena-live").endswith("?token=s3cret-token")
        with urlopen(guarded.player_url("arena-live"), timeout=10) as response:
            cookie = response.headers["Set-Cookie"].split(";")[0]
        assert cookie == "brandlake_token=s3cret-token"
        request = Request(guarded.url + "/hls/arena-live/index.m3u8", headers={"Cookie": cookie})
        with urlopen(request, timeout=10) as response:
            assert response.status == 200
    finally:
        guarded.stop()


def test_table_reads_are_cached_per_filters(small_lake):
    from dashboards import data, ui

    calls = []

    def counted(settings, start=None, end=None):
        calls.append((start, end))
        return data.exposure_minutes(settings, start, end)

    first = ui.table(counted, small_lake, start=T0)
    again = ui.table(counted, small_lake, start=T0)
    ui.table(counted, small_lake, start=T0 + timedelta(minutes=1))
    assert calls == [(T0, None), (T0 + timedelta(minutes=1), None)]
    assert first.equals(again)
