"""Control: each stream's ingest, processing mode and analysis progress; starting and stopping
ingest and switching the mode while the jobs run (the same as `brandlake streams start|stop|mode`;
every action is audited in `ops.stream_control`, and `brandlake streams supervise` applies the
starts and stops). The app asks for its token before any page when one is set, so beyond
loopback only token holders reach these controls (dashboards/run.py refuses to listen there
without one or an authenticating proxy)."""

import pandas as pd
import streamlit as st

from dashboards import ui
from jobs.common.lake import OpenTables
from jobs.control.modes import ControlError, set_mode
from jobs.control.streams import stream_states
from jobs.control.supervisor import describe_source, ingest_states, request_start, request_stop
from schemas.tables import STREAM_CONTROL

conf = ui.settings()
st.title("Control")
streams = [s.stream_id for s in conf.catalog.streams]


def applied(action) -> None:
    """Run a control action; say what it recorded, or why it could not."""
    try:
        st.success(action())
    except ControlError as error:
        st.error(str(error))


st.subheader("Ingest")
try:
    supervised, _ = ingest_states(conf)
except Exception as error:  # Redis down: the requests are still recorded
    supervised = None
    st.warning(f"Whether an ingest supervisor runs is unknown (Redis: {error}).")
if supervised is False:
    st.warning("No ingest supervisor is running: requests are recorded and applied when "
               "`brandlake streams supervise` starts.")  # fmt: skip
with st.form("ingest"):
    columns = st.columns(3)
    ingest_stream = columns[0].selectbox("Stream", streams, key="ingest_stream")
    kind = columns[1].radio("Source", ["file", "rtmp"], horizontal=True, key="ingest_kind")
    ingest_by = columns[2].text_input("Your name (the audit's)", "dashboard", key="ingest_by")
    path = st.text_input("Video file (file: a path on the ingest machine)", key="ingest_path")
    listen = st.text_input("Listen at (rtmp; empty: ingest.listen)", key="ingest_listen")
    options = st.columns(2)
    loop = options[0].checkbox("Loop the file", key="ingest_loop")
    realtime = options[1].checkbox("At the video's speed", value=True, key="ingest_realtime")
    buttons = st.columns(2)
    start, stop = buttons[0].form_submit_button("Start"), buttons[1].form_submit_button("Stop")
    by = ingest_by.strip() or "dashboard"

    def start_ingest() -> str:
        source = (
            {"kind": "file", "path": path.strip(), "loop": loop, "realtime": realtime}
            if kind == "file"
            else {"kind": "rtmp", "listen": listen.strip() or None, "transcode": False}
        )
        request_start(conf, ingest_stream, source, by)
        return f"{ingest_stream}: ingest of {describe_source(source)} requested by {by}"

    def stop_ingest() -> str:
        request_stop(conf, ingest_stream, by)
        return f"{ingest_stream}: ingest stop requested by {by}"

    if start:
        applied(start_ingest)
    if stop:
        applied(stop_ingest)

st.subheader("Processing mode")
with st.form("mode"):
    columns = st.columns(3)
    stream = columns[0].selectbox("Stream", streams, key="control_stream")
    mode = columns[1].selectbox("Mode", sorted(conf.processing.modes), key="control_mode")
    by = columns[2].text_input("Your name (the audit's)", value="dashboard", key="control_by")
    st.caption(
        "realtime: keyframes only, keeps up at any load; standard: the job's sampling; "
        "thorough: every frame; batch: left to `brandlake streams reprocess`. Applies from the "
        "stream's next segment, without a restart."
    )
    if st.form_submit_button("Set mode"):

        def switch() -> str:
            row = set_mode(conf, stream, mode, by.strip() or "dashboard")
            return (f"{stream}: {mode} from {row['effective_from']:%H:%M:%S} UTC, by "
                    f"{row['requested_by']}")  # fmt: skip

        applied(switch)

st.subheader("Streams")
states = pd.DataFrame(stream_states(conf))
st.dataframe(
    states,
    hide_index=True,
    column_config={
        "stream_id": "stream",
        "ingest": "ingesting",
        "since": st.column_config.DatetimeColumn("since", format="YYYY-MM-DD HH:mm:ss"),
        "by": "set by",
        "analysed_up_to": st.column_config.DatetimeColumn(
            "analysed up to", format="YYYY-MM-DD HH:mm:ss"
        ),
        "behind_s": st.column_config.NumberColumn("behind (s)", format="%.1f"),
    },
)

if states["analysed_up_to"].isna().all():
    st.info("No analysis progress to show: no stream analysed yet, or Redis's live state is not "
            "reachable (`brandlake services status`).")  # fmt: skip

st.subheader("Recent actions")
audit = OpenTables(conf).read(STREAM_CONTROL.name)
if audit is None:
    st.info("No control actions yet.")
else:
    st.dataframe(
        audit.to_pandas()
        .sort_values("requested_at", ascending=False)
        .head(50)[["requested_at", "stream_id", "action", "value", "effective_from",
                   "requested_by"]],
        hide_index=True,
    )  # fmt: skip
