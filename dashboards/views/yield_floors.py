"""Yield: the floor rules in force, treatment (published floors) against holdout (static floors)
per hour with the uplift's interval, and the CTR model's calibration by slot type."""

import streamlit as st

from dashboards import data, ui

conf = ui.settings()
currency = conf.catalog.rate_card.currency
st.title("Yield")

st.subheader("Floors in force")
rules = ui.table(data.floors_in_force, conf)
if rules is not None:
    if rules.empty:
        st.info("No floor rules published yet: every auction has the static campaign floors "
                "(`brandlake yield`, or the yield_optimization DAG).")  # fmt: skip
    else:
        top = st.columns(3)
        top[0].metric("Rule set", rules.version.iloc[0])
        top[1].metric("Rules", len(rules))
        top[2].metric("In force since", f"{rules.valid_from.iloc[0]:%Y-%m-%d %H:%M} UTC")
        st.dataframe(rules.drop(columns=["version", "valid_from"]), hide_index=True)
        st.caption(f"Floors in {currency} CPM; `*` matches any value; the most specific rule "
                   "wins. The holdout arm keeps the static campaign floors.")  # fmt: skip

st.subheader("Treatment vs holdout")
start, end = ui.time_range("yield")
hours = ui.table(data.yield_experiment, conf, start=start, end=end)
if hours is not None:
    if hours.empty:
        st.info("No experiment readout in this range: widen it, or run `brandlake yield`.")
    else:
        by_arm = hours.pivot_table(index="hour", columns="arm", values="revenue_per_1000")
        st.line_chart(by_arm, y_label=f"revenue per 1000 auctions ({currency})")
        st.line_chart(hours.pivot_table(index="hour", columns="arm", values="fill_rate"),
                      y_label="fill rate")  # fmt: skip
        uplift = hours[hours.arm == "treatment"][
            ["hour", "uplift", "uplift_low", "uplift_high", "fill_rate_delta", "floor_versions"]
        ]
        st.dataframe(
            uplift,
            hide_index=True,
            column_config={
                name: st.column_config.NumberColumn(label, format="percent")
                for name, label in (("uplift", "uplift"), ("uplift_low", "95 % low"),
                                    ("uplift_high", "95 % high"),
                                    ("fill_rate_delta", "fill rate change"))
            },
        )  # fmt: skip
        st.caption("Uplift: treatment's revenue per 1000 auctions over the holdout's, with a "
                   "bootstrap interval over stream-minutes.")  # fmt: skip

st.subheader("CTR model calibration by slot type")
calibration = ui.table(data.ctr_calibration, conf)
if calibration is not None:
    if calibration.empty:
        st.info("No CTR model trained yet: `brandlake train ctr-model`.")
    else:
        st.dataframe(calibration, hide_index=True)
        st.caption(
            "Predicted / observed clicks on the newest training's test split; `truth`: the "
            "simulator's true click probabilities on the same rows (their own noise)."
        )
