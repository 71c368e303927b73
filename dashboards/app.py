"""The brandlake dashboard: live streams with detection overlays, brand exposure, revenue, audience
and QoE, yield (floors and their experiment), pipeline health and stream control.

    brandlake dashboard        (or: streamlit run dashboards/app.py)

Reads the lake with delta-rs (no Spark) and live state from Redis; the Live page's player comes
from the dashboard's own media server (dashboards/media_server.py).
"""

import streamlit as st

from dashboards import ui

st.set_page_config(page_title="brandlake", page_icon=":tv:", layout="wide")
ui.require_token(ui.settings())
pages = st.navigation(
    [
        st.Page("views/live.py", title="Live", icon=":material/live_tv:", default=True),
        st.Page("views/exposure.py", title="Brand exposure", icon=":material/visibility:",
                url_path="exposure"),
        st.Page("views/revenue.py", title="Revenue", icon=":material/payments:",
                url_path="revenue"),
        st.Page("views/audience.py", title="Audience & QoE", icon=":material/groups:",
                url_path="audience"),
        st.Page("views/yield_floors.py", title="Yield", icon=":material/trending_up:",
                url_path="yield"),
        st.Page("views/health.py", title="Health", icon=":material/monitor_heart:",
                url_path="health"),
        st.Page("views/control.py", title="Control", icon=":material/tune:",
                url_path="control"),
    ]
)  # fmt: skip
pages.run()
