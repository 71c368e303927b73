"""Revenue: impressions, revenue, eCPM and CTR per campaign and stream, revenue served while
the sponsor's brand was on screen, and the scene and brand-safety breakdown."""

import streamlit as st

from dashboards import data, ui

conf = ui.settings()
currency = conf.catalog.rate_card.currency
st.title("Revenue")
start, end = ui.time_range("revenue")
minutes = ui.table(data.revenue_minutes, conf, start=start, end=end)
if minutes is None:
    st.stop()
minutes, streams = ui.filtered(minutes, "stream_id", "Streams")
if minutes.empty:
    st.info("No revenue in this selection: widen the time range or the filters.")
    st.stop()

campaigns = data.revenue_by_campaign(minutes)
(total,) = data.revenue_total(minutes).to_dict("records")
top = st.columns(4)
top[0].metric("Revenue", ui.money(total["revenue"], currency))
top[1].metric("Impressions", f"{total['impressions']:,}")
top[2].metric("eCPM", ui.money(total["ecpm"], currency))
top[3].metric(
    "Served with the sponsor on screen",
    f"{total['on_screen_share']:.1%}" if total["revenue"] else "-",
)

st.subheader("Per campaign and stream")
st.dataframe(
    campaigns,
    hide_index=True,
    column_config={
        "revenue": st.column_config.NumberColumn(f"revenue ({currency})", format="%.2f"),
        "ecpm": st.column_config.NumberColumn("eCPM", format="%.2f"),
        "ctr": st.column_config.NumberColumn("CTR", format="percent"),
        "revenue_brand_on_screen": st.column_config.NumberColumn(
            "revenue, brand on screen", format="%.2f"
        ),
        "on_screen_share": st.column_config.ProgressColumn(
            "share on screen", format="percent", min_value=0.0, max_value=1.0
        ),
    },
)
st.subheader("Revenue per minute")
st.bar_chart(minutes.pivot_table(index="minute", columns="campaign_id", values="revenue",
                                 aggfunc="sum"))  # fmt: skip

st.subheader("By scene and brand safety when served")
breakdown = ui.table(data.impression_breakdown, conf, streams=streams or None, start=start, end=end)
if breakdown is not None:
    st.dataframe(breakdown, hide_index=True)
    st.caption("Safety: 1 - P(nsfw) of the frame on screen when the ad was served.")
