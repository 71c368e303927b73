"""Audience & QoE: concurrent viewers per stream, what they experienced (startup, rebuffering,
bitrate, errors, abandonment) by device and CDN, and what rebuffering does to the ads."""

import streamlit as st

from dashboards import data, ui
from jobs.audience.rollup import audience_rollup, qoe_rollup

conf = ui.settings()
currency = conf.catalog.rate_card.currency
st.title("Audience & QoE")
start, end = ui.time_range("audience")
minutes = ui.table(data.audience_minutes, conf, start=start, end=end)
if minutes is None:
    st.stop()
minutes, streams = ui.filtered(minutes, "stream_id", "Streams")
if minutes.empty:
    st.info("No viewers in this selection: widen the time range or the filters.")
    st.stop()

(total,) = audience_rollup(minutes.assign(selection="all"), ["selection"]).to_dict("records")
top = st.columns(4)
top[0].metric("Concurrent viewers (mean)", f"{total['avg_concurrent_viewers']:,.0f}")
top[1].metric("Peak", f"{total['peak_concurrent_viewers']:,}")
top[2].metric("Viewer hours", f"{total['viewer_hours']:,.1f}")
top[3].metric(
    "Invalid traffic left out",
    f"{total['invalid_viewers']:,} viewer-minutes",
    help="viewers flagged by the invalid-traffic rules in a minute (jobs/audience/ivt.py): "
    "not counted in audience, QoE, exposure weighting or revenue",
)
st.subheader("Concurrent viewers per minute")
st.line_chart(minutes.pivot_table(index="minute", columns="stream_id",
                                  values="avg_concurrent_viewers", aggfunc="sum"))  # fmt: skip
st.dataframe(
    audience_rollup(minutes, ["stream_id"]),
    hide_index=True,
    column_config={
        "avg_concurrent_viewers": st.column_config.NumberColumn("mean concurrent", format="%.1f"),
        "viewer_hours": st.column_config.NumberColumn("viewer hours", format="%.1f"),
    },
)

st.subheader("Quality of experience")
qoe = ui.table(data.qoe_minutes, conf, start=start, end=end)
if qoe is not None:
    qoe = qoe[qoe["stream_id"].isin(streams)] if streams else qoe
    by = st.segmented_control(
        "By", ["device", "cdn", "geo", "stream_id"], default="device", key="qoe_by"
    )
    st.dataframe(
        qoe_rollup(qoe, [by or "device"]),
        hide_index=True,
        column_config={
            "startup_ms": st.column_config.NumberColumn("startup (ms, median)", format="%.0f"),
            "rebuffer_ratio": st.column_config.NumberColumn("rebuffering", format="percent"),
            "mean_bitrate_kbps": st.column_config.NumberColumn("bitrate (kbps)", format="%.0f"),
            "error_rate": st.column_config.NumberColumn("errors", format="percent"),
            "abandonment_rate": st.column_config.NumberColumn("abandoned", format="percent"),
        },
    )
    st.caption(
        "Rebuffering: stalled seconds / (stalled + watched). Abandoned: sessions that ended "
        "before their first frame, of the attempts."
    )

st.subheader("Ads by rebuffering")
ads = ui.table(data.ads_by_qoe, conf, streams=streams or None, start=start, end=end)
if ads is not None:
    st.dataframe(
        ads,
        hide_index=True,
        column_config={
            "revenue": st.column_config.NumberColumn(f"revenue ({currency})", format="%.2f"),
            "ecpm": st.column_config.NumberColumn("eCPM", format="%.2f"),
            "ctr": st.column_config.NumberColumn("CTR", format="percent"),
            "completion_rate": st.column_config.NumberColumn("ads completed", format="percent"),
            "impressions_per_viewer": st.column_config.NumberColumn(
                "impressions per viewer", format="%.1f"
            ),
        },
    )
    st.caption(
        f"Viewers whose stalls took more than {conf.audience.rebuffer_band:.0%} of their "
        "watching time in the selection, against the others; invalid traffic left out."
    )
