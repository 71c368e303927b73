"""Processing modes per stream, switched while the jobs run.

An operator sets a stream's mode (`brandlake streams mode arena-live realtime`); the request is
one row of `ops.stream_control` (who, what, when), and the new mode applies to the stream's
segments that start at or after it. frame_analysis reads the table between batches and samples
each segment as its stream's mode at the segment's start says (`processing.modes` in conf/), so
a switch needs no restart, a backlog keeps the mode its segments were recorded under, and a
replayed batch analyses every segment as the first attempt did. Every silver row carries the
mode and the sample rate it was analysed with.

Modes (conf/base.yaml): `realtime` (keyframes only, no boundary refinement: keeps up at any
load), `standard` (the job's own sampling), `thorough` (every frame, for archives and audits),
`batch` (deferred: the live job leaves the segments recorded in it, and
`brandlake streams reprocess STREAM` analyses them from the landing area later, once each).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow.dataset as ds

from jobs.common.config import Settings
from jobs.common.lake import OpenTables, append_rows
from schemas.tables import STREAM_CONTROL

MODE = "mode"  # the `action` of a mode change


class ControlError(ValueError):
    """A control request that cannot be applied; the message says why and what is known."""


@dataclass(frozen=True)
class Sampling:
    """How frame_analysis samples a segment in one mode."""

    mode: str
    sample_fps: float
    keyframes_only: bool
    reference_frames_only: bool
    refine_boundaries: bool
    deferred: bool = False  # left by the live job to `brandlake streams reprocess`

    @property
    def stamped_fps(self) -> float:
        """The rate rows record: 0 when only keyframes are decoded."""
        return 0.0 if self.keyframes_only else self.sample_fps


def samplings(settings: Settings) -> dict[str, Sampling]:
    """Every configured mode's sampling, the job's own settings filling what a mode leaves out."""
    job = settings.jobs.frame_analysis
    out = {}
    for name, mode in settings.processing.modes.items():
        out[name] = Sampling(
            name,
            job.sample_fps if mode.sample_fps is None else mode.sample_fps,
            job.keyframes_only if mode.keyframes_only is None else mode.keyframes_only,
            job.reference_frames_only
            if mode.reference_frames_only is None
            else mode.reference_frames_only,
            job.refine_boundaries if mode.refine_boundaries is None else mode.refine_boundaries,
            mode.deferred,
        )
    return out


@dataclass(frozen=True)
class ModeSchedule:
    """Each stream's mode changes in time order: [(effective_from, mode, requested_by), ...]."""

    default: str
    changes: dict[str, list[tuple[datetime, str, str]]] = field(default_factory=dict)

    def mode_at(self, stream_id: str, at: datetime) -> str:
        """The mode of `stream_id` for a segment starting at `at`."""
        changes = self.changes.get(stream_id, [])
        index = bisect.bisect_right([change[0] for change in changes], at)
        return changes[index - 1][1] if index else self.default

    def current(self, stream_id: str) -> tuple[str, datetime | None, str | None]:
        """The stream's latest mode, since when and who set it (the default: never set)."""
        changes = self.changes.get(stream_id)
        if not changes:
            return self.default, None, None
        since, mode, by = changes[-1]
        return mode, since, by


def read_schedule(tables: OpenTables) -> ModeSchedule:
    """The mode changes in `ops.stream_control` (none yet: every stream in the default mode)."""
    default = tables.settings.processing.default_mode
    rows = tables.read(
        STREAM_CONTROL.name,
        ["stream_id", "value", "effective_from", "requested_by", "requested_at"],
        ds.field("action") == MODE,
    )
    changes: dict[str, list[tuple[datetime, str, str]]] = {}
    if rows is not None:
        ordered = sorted(rows.to_pylist(), key=lambda r: (r["effective_from"], r["requested_at"]))
        for row in ordered:
            changes.setdefault(row["stream_id"], []).append(
                (row["effective_from"], row["value"], row["requested_by"])
            )
    return ModeSchedule(default, changes)


def set_mode(
    settings: Settings,
    stream_id: str,
    mode: str,
    requested_by: str,
    effective_from: datetime | None = None,
) -> dict:
    """Record that `stream_id` is analysed in `mode` from `effective_from` (default: now);
    returns the audit row."""
    check_stream(settings, stream_id)
    modes = sorted(settings.processing.modes)
    if mode not in modes:
        raise ControlError(f"no mode {mode!r} (processing.modes: {modes})")
    return record_action(settings, stream_id, MODE, mode, requested_by, effective_from)


def check_stream(settings: Settings, stream_id: str) -> None:
    streams = [s.stream_id for s in settings.catalog.streams]
    if stream_id not in streams:
        raise ControlError(f"no stream {stream_id!r} in the catalog (streams: {streams})")


def record_action(
    settings: Settings,
    stream_id: str,
    action: str,
    value: str,
    requested_by: str,
    effective_from: datetime | None = None,
) -> dict:
    """One row of `ops.stream_control` (effective from now unless said); returns it."""
    now = datetime.now(UTC)
    row = {
        "stream_id": stream_id,
        "action": action,
        "value": value,
        "effective_from": effective_from or now,
        "requested_by": requested_by,
        "requested_at": now,
        "request_date": now.date(),
    }
    append_rows(settings, STREAM_CONTROL, [row])
    return row
