"""Live: a stream's player with boxes drawn over the picture, and from Redis the brands on
screen now, rolling screen seconds per brand, revenue in the last minute and the viewers."""

import pandas as pd
import streamlit as st

from dashboards import data, ui

conf = ui.settings()
st.title("Live")
streams = ui.shown(data.streams, conf)
if not streams:
    st.info(
        "No streams yet: ingest one (`brandlake ingest file VIDEO --stream-id ID --realtime`, "
        "or RTMP with `brandlake ingest rtmp --stream-id ID`) or run `make demo`."
    )
    st.stop()
wanted = st.query_params.get("stream")
stream = st.selectbox(
    "Stream", streams, index=streams.index(wanted) if wanted in streams else 0, key="stream"
)
st.query_params["stream"] = stream

player, panel = st.columns([3, 2])
with player:
    try:
        server = ui.media(conf)
    except (OSError, FileNotFoundError) as error:
        st.error(f"The player is unavailable: {error}")
    else:
        rendition = "source"
        if stream in conf.catalog.streams_with("face_blur"):
            shown = st.segmented_control(
                "Rendition", ["source", "faces blurred"], default="source", key="rendition"
            )
            rendition = "blurred" if shown == "faces blurred" else "source"
        url = server.player_url(stream, rendition)
        st.iframe(url, height=460)
        st.caption(
            f"Boxes: brands in cyan, people in yellow, drawn from silver.detections at the "
            f"playing time. Player: {url}"
        )


@st.fragment(run_every=conf.dashboard.refresh_seconds)
def live_panel(stream_id: str) -> None:
    state = ui.shown(data.live_state, conf, stream_id)
    if state is None:
        return
    currency = conf.catalog.rate_card.currency
    if state.frame_time is None:
        st.info(f"No analysed frame of `{stream_id}` in Redis: is `frame-analysis` running?")
    else:
        brands = ", ".join(state.brands_now) or "none"
        st.metric("Brands on screen now", brands)
        st.caption(
            f"frame {state.frame_time:%H:%M:%S} UTC · scene {state.scene_label or '-'} · "
            f"people {state.person_count if state.person_count is not None else '-'} · safety "
            f"{'-' if state.safety_score is None else f'{state.safety_score:.2f}'}"
        )
    minutes = conf.jobs.exposure_revenue.live_window_minutes
    revenue = state.revenue_last_minute
    minute = f" ({state.revenue_minute:%H:%M} UTC)" if state.revenue_minute else ""
    money, viewers = st.columns(2)
    money.metric(
        f"Revenue, last minute{minute}", "-" if revenue is None else ui.money(revenue, currency)
    )
    at = f" ({state.audience_minute:%H:%M} UTC)" if state.audience_minute else ""
    viewers.metric(
        f"Viewers{at}",
        "-" if state.viewers is None else f"{state.viewers:,.0f}",
        help="mean concurrent viewers in the newest full minute; peak "
        f"{'-' if state.peak_viewers is None else f'{state.peak_viewers:,}'}",
    )
    st.subheader(f"Screen seconds, last {minutes} minutes")
    if state.exposure_seconds:
        exposure = pd.DataFrame(
            sorted(state.exposure_seconds.items(), key=lambda kv: -kv[1]),
            columns=["brand", "screen seconds"],
        )
        st.bar_chart(exposure, x="brand", y="screen seconds", horizontal=True, height=220)
        until = f"up to {state.exposure_until:%H:%M} UTC" if state.exposure_until else ""
        st.caption(f"from `brandlake:exposure:{stream_id}` {until}")
    else:
        st.info("No exposure aggregates yet: is `exposure-revenue` running?")
    if state.mentions:
        st.subheader(f"Brands named, last {minutes} minutes")
        st.dataframe(
            pd.DataFrame(
                [
                    (brand, c["text_mentions"], round(c["text_seconds"], 1), c["speech_mentions"])
                    for brand, c in sorted(state.mentions.items())
                ],
                columns=["brand", "on screen (text)", "text seconds", "said"],
            ),
            hide_index=True,
        )
        st.caption(f"from `brandlake:mentions:{stream_id}`: captions and lower thirds, speech")


with panel:
    live_panel(stream)
