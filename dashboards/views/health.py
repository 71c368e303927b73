"""Health: how far analysis is behind each stream, quarantined records and why, which model
versions produced the detections and when, the newest data-quality results, table sizes."""

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
    st.caption(
        "A new champion takes over between batches: one version's last frame, the next's first."
    )

st.subheader("Data quality")
quality = ui.table(data.data_quality_latest, conf)
if quality is not None:
    if quality.empty:
        st.info("No data_quality run yet: `brandlake quality` or the data_quality DAG.")
    else:
        critical = int(quality.critical.sum())
        (st.error if critical else st.success)(
            f"{critical} critical expectations failed in the newest run"
            if critical
            else "Every critical expectation held in the newest run."
        )
        st.dataframe(quality, hide_index=True)

st.subheader("Table sizes")
sizes = ui.table(data.table_sizes, conf)
if sizes is not None:
    st.dataframe(sizes, hide_index=True)
    st.caption("After the newest lakehouse_maintenance run (compaction and VACUUM).")
