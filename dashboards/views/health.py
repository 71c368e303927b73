"""Health: quarantined records and why, how far analysis is behind each stream, and which model
versions produced the detections."""

import streamlit as st

from dashboards import data, ui

conf = ui.settings()
st.title("Health")

st.subheader("Stream lag")
lag = ui.table(data.stream_lag, conf)
if lag is not None:
    if lag.empty:
        st.info("No segments ingested yet.")
    else:
        st.dataframe(lag, hide_index=True)
        st.caption(
            "analysis lag: end of the newest segment - newest analysed frame; segment age: now - "
            "end of the newest segment (a growing age means ingest stopped)."
        )

st.subheader("Quarantine")
reasons = ui.table(data.quarantine_reasons, conf)
if reasons is not None:
    if reasons.empty:
        st.success("Nothing quarantined.")
    else:
        st.metric("Quarantined records", int(reasons.records.sum()))
        st.dataframe(reasons, hide_index=True)

st.subheader("Models in use")
models = ui.table(data.models_in_use, conf)
if models is not None:
    st.dataframe(models, hide_index=True)
