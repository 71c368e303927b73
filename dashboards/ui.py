"""What every page of the dashboard shares: settings, the media server, filters, and showing
`DataUnavailableError` as a message rather than a traceback."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pandas as pd
import streamlit as st

from dashboards import media_server
from dashboards.data import DataUnavailableError
from jobs.common.config import Settings
from jobs.entrypoint import command_settings

T = TypeVar("T")


def settings() -> Settings:
    """conf/ and BRANDLAKE_* overrides, read on every rerun (cheap, and edits take effect)."""
    return command_settings()


def require_token(conf: Settings) -> None:
    """With `dashboard.auth_token` set, the session must have opened the app with ?token=."""
    expected = conf.dashboard.auth_token
    if not expected:
        return
    given = st.query_params.get("token") or st.session_state.get("token", "")
    if not hmac.compare_digest(str(given).encode(), expected.encode()):
        st.error("This dashboard needs its access token: open it with `?token=...`.")
        st.stop()
    st.session_state["token"] = given


# on_release: a cleared cache (a test's teardown) stops the server and its Kafka reader
@st.cache_resource(show_spinner=False, on_release=lambda server: server.stop())
def _media(address: str, port: int, lake_root: str, landing: str) -> media_server.MediaServer:
    return media_server.start(settings())


def media(conf: Settings) -> media_server.MediaServer:
    """The media server of this dashboard process, started on first use."""
    return _media(conf.dashboard.address, conf.dashboard.media_port, conf.lake.root,
                  conf.ingest.landing)  # fmt: skip


def shown(read: Callable[..., T], *args, **kwargs) -> T | None:
    """`read(*args, **kwargs)`, or None after showing why its data is not there."""
    try:
        return read(*args, **kwargs)
    except DataUnavailableError as reason:
        st.info(str(reason))
        return None


def table(read: Callable[..., T], conf: Settings, *args, **kwargs) -> T | None:
    """`shown` for reads of the lake, cached for `dashboard.refresh_seconds` and keyed by the
    lake and the arguments (the filters): a rerun, such as a click on a filter, does not read
    every table again. Errors are not cached."""
    cached = _cached_reader(conf.dashboard.refresh_seconds)
    key = (read.__module__, read.__qualname__)
    return shown(cached, key, conf.lake.root, args, tuple(sorted(kwargs.items())), read, conf)


@st.cache_resource(show_spinner=False)
def _cached_reader(ttl_s: float) -> Callable:
    @st.cache_data(ttl=ttl_s, max_entries=256, show_spinner=False)
    def read(name: tuple, lake_root: str, args: tuple, kwargs: tuple, _read, _conf):
        return _read(_conf, *args, **dict(kwargs))

    return read


def time_range(key: str) -> tuple[datetime | None, datetime | None]:
    """A sidebar choice of the last hour/day/week, everything, or dates (UTC)."""
    choice = st.sidebar.selectbox(
        "Time range",
        ["Everything", "Last hour", "Last 24 hours", "Last 7 days", "Dates"],
        key=f"{key}-range",
    )
    now = datetime.now(UTC)
    spans = {"Last hour": 1, "Last 24 hours": 24, "Last 7 days": 24 * 7}
    if choice in spans:
        return now - timedelta(hours=spans[choice]), None
    if choice == "Dates":
        first, last = st.sidebar.date_input(
            "From / to (UTC)", (now.date() - timedelta(days=7), now.date()), key=f"{key}-dates"
        )
        start = datetime.combine(first, datetime.min.time(), UTC)
        return start, datetime.combine(last, datetime.min.time(), UTC) + timedelta(days=1)
    return None, None


def filtered(frame: pd.DataFrame, column: str, label: str) -> tuple[pd.DataFrame, list[str]]:
    """A sidebar choice among a column's values; choosing none keeps every row."""
    chosen = st.sidebar.multiselect(label, sorted(frame[column].unique()), key=column)
    return (frame[frame[column].isin(chosen)] if chosen else frame), chosen


def money(value: float, currency: str) -> str:
    return f"{value:,.2f} {currency}"
