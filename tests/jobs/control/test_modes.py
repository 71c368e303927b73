"""Processing modes: the sampling each mode means, the schedule of switches by segment start
time, and the audit table the switches are recorded in (real Delta)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobs.common.config import load_settings
from jobs.common.lake import OpenTables
from jobs.control.modes import ControlError, ModeSchedule, read_schedule, samplings, set_mode
from tests.support import read_table

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_each_mode_fills_what_it_leaves_out_from_the_jobs_sampling():
    settings = load_settings()
    found = samplings(settings)
    job = settings.jobs.frame_analysis
    assert set(found) == set(settings.processing.modes) >= {"realtime", "standard", "thorough"}
    standard = found["standard"]
    assert (standard.sample_fps, standard.keyframes_only) == (job.sample_fps, job.keyframes_only)
    assert found["realtime"].keyframes_only and found["realtime"].stamped_fps == 0.0
    assert not found["realtime"].refine_boundaries
    assert found["thorough"].sample_fps == 30 and not found["thorough"].reference_frames_only


def test_a_segment_takes_the_mode_in_force_when_it_started():
    later = T0 + timedelta(minutes=5)
    schedule = ModeSchedule("standard", {"a": [(T0, "realtime", "x"), (later, "standard", "y")]})
    assert schedule.mode_at("a", T0 - timedelta(seconds=1)) == "standard"
    assert schedule.mode_at("a", T0) == "realtime"
    assert schedule.mode_at("a", T0 + timedelta(minutes=4)) == "realtime"
    assert schedule.mode_at("a", T0 + timedelta(minutes=5)) == "standard"
    assert schedule.mode_at("b", T0) == "standard"  # never set
    assert schedule.current("a") == ("standard", later, "y")
    assert schedule.current("b") == ("standard", None, None)


def test_switches_are_audited_and_read_back_in_time_order(tmp_path, monkeypatch):
    monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))
    settings = load_settings()
    started = datetime.now(UTC)
    assert read_schedule(OpenTables(settings)).changes == {}  # no table yet: all default
    set_mode(settings, "arena-live", "standard", "bob", effective_from=T0 + timedelta(minutes=9))
    set_mode(settings, "arena-live", "realtime", "alice", effective_from=T0)
    schedule = read_schedule(OpenTables(settings))
    assert schedule.mode_at("arena-live", T0 + timedelta(minutes=1)) == "realtime"
    assert schedule.mode_at("arena-live", T0 + timedelta(minutes=10)) == "standard"
    # the mode in force last is bob's, though alice asked later
    assert schedule.current("arena-live") == ("standard", T0 + timedelta(minutes=9), "bob")
    audit = read_table(settings, "ops.stream_control").to_pylist()
    assert sorted((r["requested_by"], r["value"]) for r in audit) == [
        ("alice", "realtime"), ("bob", "standard")
    ]  # fmt: skip
    assert all(r["action"] == "mode" and r["requested_at"] >= started for r in audit)


def test_an_unknown_stream_or_mode_is_refused_with_what_there_is(tmp_path, monkeypatch):
    monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))
    settings = load_settings()
    with pytest.raises(ControlError, match=r"no stream 'nope'.*arena-live"):
        set_mode(settings, "nope", "realtime", "x")
    with pytest.raises(ControlError, match=r"no mode 'turbo'.*realtime"):
        set_mode(settings, "arena-live", "turbo", "x")
    assert OpenTables(settings).read("ops.stream_control") is None  # nothing recorded
