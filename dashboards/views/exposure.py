"""Brand exposure: screen time, share of voice, quality index and media value per brand over
time, from gold.brand_exposure_minute, the brands named on screen and out loud
(gold.brand_mentions_minute), with filters, a CSV download and a brand's sponsorship report."""

import streamlit as st

from dashboards import data, ui
from jobs.analytics.sponsorship import ReportError, ReportScope, build_report, render_html

conf = ui.settings()
currency = conf.catalog.rate_card.currency
st.title("Brand exposure")
start, end = ui.time_range("exposure")
minutes = ui.table(data.exposure_minutes, conf, start=start, end=end)
if minutes is None:
    st.stop()
minutes, _ = ui.filtered(minutes, "stream_id", "Streams")
minutes, _ = ui.filtered(minutes, "brand_id", "Brands")
if minutes.empty:
    st.info("No exposure in this selection: widen the time range or the filters.")
    st.stop()

per_brand = data.exposure_by_brand(minutes)
top = st.columns(4)
top[0].metric("Screen time", f"{per_brand.screen_seconds.sum():,.1f} s")
top[1].metric("Brands seen", len(per_brand))
top[2].metric("Media value", ui.money(per_brand.media_value.sum(), currency))
top[3].metric("Minutes", minutes.minute.nunique())

st.subheader("Per brand")
st.dataframe(
    per_brand,
    hide_index=True,
    column_config={
        "brand_id": "brand",
        "screen_seconds": st.column_config.NumberColumn("screen seconds", format="%.1f"),
        "share_of_voice": st.column_config.ProgressColumn(
            "share of voice", format="percent", min_value=0.0, max_value=1.0
        ),
        "quality_index": st.column_config.NumberColumn("quality index", format="%.2f"),
        "media_value": st.column_config.NumberColumn(f"media value ({currency})", format="%.2f"),
    },
)

st.subheader("Over time")
measure = st.segmented_control(
    "Measure",
    ["screen_seconds", "share_of_voice", "quality_index", "media_value"],
    default="screen_seconds",
    key="measure",
)
# Over several streams, a minute's share of voice and quality are recomputed from its seconds.
by_minute = data.exposure_by_minute(minutes).pivot(
    index="minute", columns="brand_id", values=measure or "screen_seconds"
)
st.line_chart(by_minute)

st.subheader("Named on screen and out loud")
named = ui.table(data.mention_minutes, conf, start=start, end=end)
if named is not None:
    named = named[
        named.stream_id.isin(minutes.stream_id.unique())
        & named.brand_id.isin(minutes.brand_id.unique())
    ]
    st.dataframe(
        data.mentions_by_brand(named),
        hide_index=True,
        column_config={
            "brand_id": "brand",
            "text_mentions": "in captions",
            "text_seconds": st.column_config.NumberColumn("caption seconds", format="%.1f"),
            "speech_mentions": "said",
            "speech_seconds": st.column_config.NumberColumn("seconds said", format="%.1f"),
            "media_value": st.column_config.NumberColumn(
                f"media value ({currency})", format="%.2f"
            ),
        },
    )
    st.caption(
        "From gold.brand_mentions_minute: brands named in on-screen text (not their logos' own "
        "print) and by voice; their media value is its own line (rate_card.mentions)."
    )

st.subheader("Rows")
st.dataframe(minutes, hide_index=True)
st.download_button(
    "Download CSV",
    minutes.to_csv(index=False).encode(),
    file_name="brand_exposure_minute.csv",
    mime="text/csv",
    key="download",
)
st.subheader("Sponsorship report")
brand = st.selectbox("Brand", per_brand.brand_id, key="report_brand")
streams = minutes.stream_id.unique()
scope = ReportScope(brand, streams[0] if len(streams) == 1 else None, start, end)
st.caption(f"{brand} on {scope.describe()}: what `brandlake report` writes, as one HTML file.")
if st.button("Make the report", key="make_report"):
    try:
        report = build_report(conf, scope)
    except ReportError as err:
        st.warning(str(err))
    else:
        st.download_button(
            "Download the report (HTML)",
            render_html(report).encode(),
            file_name=f"{brand}-report.html",
            mime="text/html",
            key="download_report",
        )
st.caption(
    "Quality index: size, position, clarity, duration and clutter combined (weights in "
    "`exposure.quality`, formula in jobs/exposure/metrics.py); per brand weighted by screen "
    "seconds. Media value: quality-weighted seconds x the rate card (conf/catalog.yaml)."
)
