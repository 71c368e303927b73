"""Control: each stream's processing mode and analysis progress, and switching the mode while
the jobs run (the same as `brandlake streams mode`; every switch is audited in
`ops.stream_control`). The app asks for its token before any page when one is set, so beyond
loopback only token holders reach these controls (dashboards/run.py refuses to listen there
without one or an authenticating proxy)."""

import pandas as pd
import streamlit as st

from dashboards import ui
from jobs.common.lake import OpenTables
from jobs.control.modes import ControlError, set_mode
from jobs.control.streams import stream_states
from schemas.tables import STREAM_CONTROL

conf = ui.settings()
st.title("Control")
st.subheader("Processing mode")
streams = [s.stream_id for s in conf.catalog.streams]
with st.form("mode"):
    columns = st.columns(3)
    stream = columns[0].selectbox("Stream", streams, key="control_stream")
    mode = columns[1].selectbox("Mode", sorted(conf.processing.modes), key="control_mode")
    by = columns[2].text_input("Your name (the audit's)", value="dashboard", key="control_by")
    st.caption(
        "realtime: keyframes only, keeps up at any load; standard: the job's sampling; "
        "thorough: every frame. Applies from the stream's next segment, without a restart."
    )
    if st.form_submit_button("Set mode"):
        try:
            row = set_mode(conf, stream, mode, by.strip() or "dashboard")
        except ControlError as error:
            st.error(str(error))
        else:
            st.success(f"{stream}: {mode} from {row['effective_from']:%H:%M:%S} UTC, by "
                       f"{row['requested_by']}")  # fmt: skip

st.subheader("Streams")
states = pd.DataFrame(stream_states(conf))
st.dataframe(
    states,
    hide_index=True,
    column_config={
        "stream_id": "stream",
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
