"""What every page of the dashboard shares: settings, the media server, filters, and showing
`DataUnavailableError` as a message rather than a traceback."""

from __future__ import annotations

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


@st.cache_resource(show_spinner=False)
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
