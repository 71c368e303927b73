"""The media server fuzzed over real HTTP: generated paths and query strings (traversal,
encoded dots and slashes, very long names, bad windows) never get a 500, never get a file from
outside the landing area, and no answer names a path on this machine."""

from __future__ import annotations

from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlparse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboards import media_server

PLAYLIST = b"#EXTM3U\n#EXT-X-VERSION:3\n"
SEGMENT = b"G" * 188
SECRET = b"not for the web"  # beside the landing area, where traversal would reach


@pytest.fixture
def served(small_lake):
    lake = small_lake
    landing = Path(lake.landing_uri("arena-live"))
    landing.mkdir(parents=True, exist_ok=True)
    (landing / "index.m3u8").write_bytes(PLAYLIST)
    (landing / "segment_00000.ts").write_bytes(SEGMENT)
    (landing.parent / "secret.ts").write_bytes(SECRET)
    (Path(lake.lake.root) / "secret.m3u8").write_bytes(SECRET)
    running = media_server.start(lake, port=0)
    yield running, lake
    running.stop()


# what a client can put in a request line: printable ASCII (http.client refuses the rest)
URL_CHARACTERS = st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="#?/")
segment = st.one_of(
    st.sampled_from(["hls", "player", "detections", "assets", "arena-live", "..", ".", "%2e%2e",
                     "%2E%2E%2F", "..%2f", "%2f", "secret.ts", "secret.m3u8", "index.m3u8",
                     "segment_00000.ts", "hls.min.js", "%00", "~", "landing", "lake"]),
    st.text(URL_CHARACTERS, max_size=12),
    st.text("a", min_size=200, max_size=5000).map(lambda name: name + ".ts"),  # very long
)  # fmt: skip
query = st.one_of(
    st.just(""),
    st.builds(lambda a, b: f"?from={a}&to={b}",
              st.one_of(st.integers(), st.text(URL_CHARACTERS, max_size=6)),
              st.one_of(st.integers(), st.text(URL_CHARACTERS, max_size=6))),
    st.text(URL_CHARACTERS, max_size=20).map(lambda text: "?" + text),
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])  # fmt: skip
@given(st.lists(segment, min_size=1, max_size=5), query)
def test_generated_requests_never_fail_or_leak(served, parts, query):
    running, lake = served
    path = "/" + "/".join(parts) + query
    address = urlparse(running.url)
    connection = HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status in (200, 400, 404, 414), (path, response.status)
    assert SECRET not in body
    assert str(Path(lake.lake.root)).encode() not in body
    assert b"/tmp/" not in body and b"Traceback" not in body
    if response.status == 200:
        kind = response.getheader("Content-Type")
        served_kinds = ("text/html; charset=utf-8", "text/javascript; charset=utf-8",
                        "application/json")  # fmt: skip
        assert body in (PLAYLIST, SEGMENT) or kind in served_kinds, (path, kind)
