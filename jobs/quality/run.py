"""Run the data-quality checks (`jobs/quality/checks.py`) with Great Expectations over the lake's
recent rows, record every result in `ops.data_quality_results` and GX Data Docs, and fail when a
critical expectation fails.

    brandlake quality [--no-docs] [--set data_quality.lookback_hours=24]

Data Docs (HTML) are written under `<run_dir>/great_expectations/`; the run prints where.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from jobs.common.config import ConfigError, Settings
from jobs.common.lake import OpenTables, append_rows
from jobs.quality.checks import (
    CHECKED_TABLES,
    RECENT_BY,
    Check,
    freshness_check,
    impressions_in_bronze_check,
    record_rules_check,
    share_of_voice_check,
    table_check,
)
from schemas.tables import (
    BRAND_EXPOSURE_MINUTE,
    BRONZE_TABLES,
    DATA_QUALITY_RESULTS,
    FRAME_BRANDS,
    IMPRESSION_CONTEXT,
    SEGMENT_CONTEXT,
)

log = logging.getLogger("brandlake.quality")
KNOWN = {t.name for t in CHECKED_TABLES}


class DataQualityError(RuntimeError):
    """A critical expectation failed; the message says which, on what, with sample rows."""


@dataclass
class Outcome:
    """The result of one expectation on one check."""

    suite: str
    table: str
    expectation: str
    column: str | None
    severity: str
    success: bool
    observed: str = ""
    unexpected: int = 0
    checked_rows: int = 0
    sample: str = ""
    error: str = ""

    def line(self) -> str:
        what = f"{self.expectation}" + (f"({self.column})" if self.column else "")
        if self.error:
            return f"{self.suite}: {what}: {self.error}"
        detail = f"{self.unexpected} of {self.checked_rows} rows" if self.unexpected else ""
        detail = detail or f"observed {self.observed}"
        sample = f"; e.g. {self.sample}" if self.sample and self.sample != "[]" else ""
        return f"{self.suite}: {what} failed ({detail}){sample}"


def recent_rows(tables: OpenTables, name: str, since: datetime) -> pd.DataFrame | None:
    """The rows of `name` from `since` on (by partition date or minute); None: no table."""
    column = RECENT_BY[name]
    start = pa.scalar(since.date()) if column.endswith("date") else pa.scalar(since)
    rows = tables.read(name, where=ds.field(column) >= start)
    return None if rows is None else rows.to_pandas()


def build_checks(
    settings: Settings, tables: OpenTables, now: datetime, only: list[str] | None = None
) -> tuple[list[Check], list[Outcome]]:
    """Every check over the recent rows (of the tables in `only`, when given), and an outcome
    for each required table that is missing."""
    unknown = sorted(set(settings.data_quality.required_tables) - KNOWN)
    if unknown:
        raise ConfigError(
            f"data_quality.required_tables: unknown tables {unknown}; known: {sorted(KNOWN)}"
        )
    since = now - timedelta(hours=settings.data_quality.lookback_hours)
    brand_ids = [b.brand_id for b in settings.catalog.brands]
    frames: dict[str, pd.DataFrame] = {}
    checks: list[Check] = []
    missing: list[Outcome] = []
    required = only if only is not None else settings.data_quality.required_tables
    for table in CHECKED_TABLES:
        if only is not None and table.name not in only:
            continue
        rows = recent_rows(tables, table.name, since)
        if rows is None:
            if table.name in required:
                missing.append(_missing(settings, table.name))
            continue
        frames[table.name] = rows
        checks.append(table_check(table, rows, brand_ids, settings.exposure.max_frame_interval_s))
        across = record_rules_check(table, rows)
        if across is not None:
            checks.append(across)
    exposure = frames.get(BRAND_EXPOSURE_MINUTE.name)
    if exposure is not None:
        checks.append(share_of_voice_check(exposure))
    context = frames.get(IMPRESSION_CONTEXT.name)
    if context is not None:
        # Gold impressions near the window's start may have landed in bronze the day before
        earlier = tables.read(
            "bronze.impressions",
            ["event_id"],
            ds.field("event_date") >= pa.scalar((since - timedelta(days=1)).date()),
        )
        ids = (
            earlier.column("event_id").to_pandas() if earlier is not None else pd.Series(dtype=str)
        )
        checks.append(impressions_in_bronze_check(context, ids))
    segments = frames.get(BRONZE_TABLES["segments"].name)
    if segments is not None:
        for table in (SEGMENT_CONTEXT, FRAME_BRANDS):
            if table.name in frames:
                checks.append(
                    freshness_check(
                        table, frames[table.name], segments, settings.data_quality.freshness_minutes
                    )
                )
    return checks, missing


def _missing(settings: Settings, name: str) -> Outcome:
    return Outcome(
        suite=name,
        table=name,
        expectation="table_exists",
        column=None,
        severity="critical",
        success=False,
        error=f"table {name} does not exist at {settings.table_uri(name)}: run the job that "
        "writes it, or take it out of data_quality.required_tables",
    )


def _columns(expectation) -> list[str]:
    """The columns an expectation reads."""
    named = [getattr(expectation, a, None) for a in ("column", "column_A", "column_B")]
    return [c for c in named if c] + list(getattr(expectation, "column_list", None) or [])


def _gx_context(root: Path):
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", project_root_dir=str(root))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _definition(context, source, check: Check, expectations):
    """The check's GX objects (asset, batch, suite, validation), created or brought up to date."""
    import great_expectations as gx

    try:
        asset = source.get_asset(check.suite)
    except LookupError:
        asset = source.add_dataframe_asset(check.suite)
    try:
        batch = asset.get_batch_definition("recent rows")
    except KeyError:
        batch = asset.add_batch_definition_whole_dataframe("recent rows")
    suite = context.suites.add_or_update(
        gx.ExpectationSuite(name=check.suite, expectations=expectations)
    )
    return context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=check.suite, data=batch, suite=suite)
    )


def validate(checks: list[Check], root: Path, sample_rows: int, docs: bool) -> list[Outcome]:
    """Run every check's expectations with Great Expectations (results kept in the GX project
    at `root`, Data Docs rebuilt when `docs`); an expectation on a column the rows lack is not
    run: its outcome names the column and what the rows have."""
    from great_expectations.core.run_identifier import RunIdentifier

    context = _gx_context(root)
    source = context.data_sources.add_or_update_pandas("lake")
    run_id = RunIdentifier(run_name="data_quality", run_time=datetime.now(UTC))
    outcomes: list[Outcome] = []
    for check in checks:
        columns = set(check.frame.columns)
        runnable = []
        for expectation in check.expectations:
            absent = [c for c in _columns(expectation) if c not in columns]
            if not absent:
                runnable.append(expectation)
                continue
            outcomes.append(
                Outcome(
                    suite=check.suite,
                    table=check.table,
                    expectation=expectation.expectation_type,
                    column=",".join(_columns(expectation)),
                    severity=expectation.severity.value,
                    success=False,
                    checked_rows=len(check.frame),
                    error=f"column {', '.join(absent)} is not in {check.table} (it has "
                    f"{', '.join(sorted(columns))}): fix the rule in jobs/quality/checks.py "
                    "or the table's schema in schemas/tables.py",
                )
            )
        if not runnable:
            continue
        keys = [k for k in check.keys if k in columns]
        result = _definition(context, source, check, runnable).run(
            batch_parameters={"dataframe": check.frame},
            result_format={
                "result_format": "SUMMARY",
                "unexpected_index_column_names": keys,
                "partial_unexpected_count": sample_rows,
            },
            run_id=run_id,
        )
        outcomes += [_outcome(check, r, sample_rows) for r in result.results]
    if docs:
        context.build_data_docs()
    return outcomes


def _outcome(check: Check, result, sample_rows: int) -> Outcome:
    config = result.expectation_config
    details = result.result or {}
    error = ""
    if result.exception_info and result.exception_info.get("raised_exception"):
        error = str(result.exception_info.get("exception_message", "")).splitlines()[0]
    sample = details.get("partial_unexpected_index_list") or details.get("partial_unexpected_list")
    observed = details.get("observed_value", "")
    return Outcome(
        suite=check.suite,
        table=check.table,
        expectation=config.type,
        column=config.kwargs.get("column")
        or ",".join(config.kwargs.get("column_list") or [])
        or None,
        severity=config.severity.value,
        success=bool(result.success),
        observed=_text(observed),
        unexpected=int(details.get("unexpected_count") or 0),
        checked_rows=int(details.get("element_count") or len(check.frame)),
        sample=_text((sample or [])[:sample_rows]) if not result.success else "",
        error=error,
    )


def _text(value) -> str:
    def plain(v):
        if isinstance(v, float) and not math.isfinite(v):
            return str(v)
        return v if isinstance(v, (str, int, float, bool)) or v is None else str(v)

    if isinstance(value, list):
        value = [
            {k: plain(v) for k, v in x.items()} if isinstance(x, dict) else plain(x) for x in value
        ]
        return json.dumps(value, default=str)
    return value if isinstance(value, str) else json.dumps(plain(value), default=str)


def result_rows(outcomes: list[Outcome], run_id: str, run_time: datetime) -> list[dict]:
    return [
        {
            "run_id": run_id,
            "run_time": run_time,
            "suite": o.suite,
            "table_name": o.table,
            "expectation": o.expectation,
            "column_name": o.column,
            "severity": o.severity,
            "success": o.success,
            "observed_value": o.observed,
            "unexpected_count": o.unexpected,
            "checked_rows": o.checked_rows,
            "sample": o.sample,
            "error": o.error or None,
            "run_date": run_time.date(),
        }
        for o in outcomes
    ]


def summary(outcomes: list[Outcome]) -> str:
    failed = [o for o in outcomes if not o.success]
    critical = [o for o in failed if o.severity == "critical"]
    lines = [
        f"{len(outcomes)} expectations on {len({o.table for o in outcomes})} tables: "
        f"{len(outcomes) - len(failed)} passed, {len(critical)} critical failed, "
        f"{len(failed) - len(critical)} other failed"
    ]
    lines += [f"  [{o.severity}] {o.line()}" for o in failed]
    return "\n".join(lines)


def run_quality(
    settings: Settings,
    docs: bool = True,
    now: datetime | None = None,
    only: list[str] | None = None,
) -> dict:
    """Check the lake (the tables in `only`, each required, when given), record the results;
    raises DataQualityError (after recording) when a critical expectation failed. Returns
    {run_id, expectations, failed, critical, seconds}."""
    started = time.monotonic()
    now = now or datetime.now(UTC)
    tables = OpenTables(settings)
    checks, outcomes = build_checks(settings, tables, now, only)
    root = Path(settings.run_dir) / "great_expectations"
    outcomes += validate(checks, root, settings.data_quality.sample_rows, docs)
    run_id = f"dq-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    append_rows(settings, DATA_QUALITY_RESULTS, result_rows(outcomes, run_id, now))
    text = summary(outcomes)
    critical = [o for o in outcomes if not o.success and o.severity == "critical"]
    report = {
        "run_id": run_id,
        "expectations": len(outcomes),
        "failed": sum(not o.success for o in outcomes),
        "critical": len(critical),
        "seconds": round(time.monotonic() - started, 1),
        "data_docs": str(root / "gx/uncommitted/data_docs/local_site/index.html") if docs else "",
    }
    log.info("%s (%.1f s)", text, report["seconds"])
    if critical:
        raise DataQualityError(text)
    return report


def main(argv: list[str] | None = None) -> dict:
    import argparse

    from jobs.common.config import add_set_option, parse_overrides
    from jobs.entrypoint import command_settings

    parser = argparse.ArgumentParser(prog="brandlake quality", description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-docs", action="store_true", help="skip rebuilding GX Data Docs")
    add_set_option(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    settings = command_settings(parse_overrides(args.set))
    try:
        report = run_quality(settings, docs=not args.no_docs)
    except DataQualityError as err:
        print(err)
        raise SystemExit(1) from None
    print(
        f"data quality: {report['expectations']} expectations, {report['failed']} failed "
        f"(none critical) in {report['seconds']} s; Data Docs: {report['data_docs']}"
    )
    return report
