"""What the data_quality DAG checks: Great Expectations expectations per table, generated from
`schemas/` where the schema says it (columns, not-null, enums, ranges, patterns of the event
fields), and the rules that need the data (unique ids, share of voice summing to 1 per
stream-minute, gold impressions found in bronze, freshness).

Each `Check` is one batch Great Expectations validates: a table's recent rows, or rows derived
from tables (one per stream-minute, one per stream, ...) so that a broken rule names the rows
that break it. Pure functions of DataFrames: a test builds a check from a tiny frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import great_expectations.expectations as gxe
import pandas as pd

from schemas.events import EVENT_SCHEMAS, EventField
from schemas.tables import (
    AUDIENCE_MINUTE,
    BRAND_EXPOSURE_MINUTE,
    BRONZE_TABLES,
    CLICKS,
    DETECTIONS,
    FRAME_BRANDS,
    IMPRESSION_CONTEXT,
    IMPRESSION_LOG,
    PLAYER_EVENTS,
    QOE_MINUTE,
    QUARANTINE,
    REVENUE_MINUTE,
    SEGMENT_CONTEXT,
    TableSpec,
)

CHECKED_TABLES: tuple[TableSpec, ...] = (
    *BRONZE_TABLES.values(),
    QUARANTINE,
    DETECTIONS,
    SEGMENT_CONTEXT,
    FRAME_BRANDS,
    IMPRESSION_LOG,
    CLICKS,
    PLAYER_EVENTS,
    BRAND_EXPOSURE_MINUTE,
    IMPRESSION_CONTEXT,
    REVENUE_MINUTE,
    AUDIENCE_MINUTE,
    QOE_MINUTE,
)
# The column whose recent values a run reads (partition columns prune files)
RECENT_BY = {t.name: (t.partition_by[0] if t.partition_by else "minute") for t in CHECKED_TABLES}
# The columns that name a row in a failed expectation's sample
ROW_KEYS: dict[str, list[str]] = {
    **{t.name: ["event_id"] for t in BRONZE_TABLES.values()},
    QUARANTINE.name: ["kafka_topic", "kafka_partition", "kafka_offset"],
    DETECTIONS.name: ["detection_id"],
    SEGMENT_CONTEXT.name: ["segment_id", "frame_index"],
    FRAME_BRANDS.name: ["frame_id"],
    IMPRESSION_LOG.name: ["event_id"],
    CLICKS.name: ["event_id"],
    PLAYER_EVENTS.name: ["event_id"],
    AUDIENCE_MINUTE.name: ["stream_id", "minute"],
    QOE_MINUTE.name: ["stream_id", "minute", "device", "geo", "cdn"],
    BRAND_EXPOSURE_MINUTE.name: ["stream_id", "brand_id", "minute"],
    IMPRESSION_CONTEXT.name: ["event_id"],
    REVENUE_MINUTE.name: ["stream_id", "campaign_id", "minute"],
}
SOV_TOLERANCE = 1e-6


@dataclass
class Check:
    """A batch to validate: `suite` names it (the table, or `table: rule`)."""

    suite: str
    table: str
    frame: pd.DataFrame
    expectations: list[gxe.Expectation] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # columns that identify a bad row


def field_expectations(event_field: EventField) -> list[gxe.Expectation]:
    """The expectations an event field's rules in `schemas/events.py` make."""
    name = event_field.name
    found: list[gxe.Expectation] = []
    if event_field.required:
        found.append(gxe.ExpectColumnValuesToNotBeNull(column=name))
    if event_field.allowed is not None:
        found.append(gxe.ExpectColumnValuesToBeInSet(column=name, value_set=event_field.allowed))
    if event_field.minimum is not None or event_field.maximum is not None:
        found.append(
            gxe.ExpectColumnValuesToBeBetween(
                column=name, min_value=event_field.minimum, max_value=event_field.maximum
            )
        )
    if event_field.pattern is not None:
        # The validator matches the whole value (re.fullmatch)
        found.append(
            gxe.ExpectColumnValuesToMatchRegex(column=name, regex=f"^(?:{event_field.pattern})$")
        )
    return found


def schema_expectations(table: TableSpec) -> list[gxe.Expectation]:
    """The table has exactly the columns its `TableSpec` declares; bronze tables also obey
    their event fields' rules."""
    found: list[gxe.Expectation] = [
        gxe.ExpectTableColumnsToMatchSet(column_set=table.columns, exact_match=True)
    ]
    layer, name = table.name.split(".")
    if layer == "bronze" and name in EVENT_SCHEMAS:
        for event_field in EVENT_SCHEMAS[name].fields:
            found += field_expectations(event_field)
    return found


def _between(column: str, low: float | None, high: float | None = None) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high)


def _not_null(*columns: str) -> list[gxe.Expectation]:
    return [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in columns]


def table_rules(table: TableSpec, brand_ids: list[str], max_interval_s: float):
    """Rules of the data in one table's rows, beyond what the schema says."""
    unit = ("confidence", "x1", "y1", "x2", "y2", "area_share")
    rules: dict[str, list[gxe.Expectation]] = {
        QUARANTINE.name: _not_null("reason", "kafka_topic", "kafka_offset"),
        DETECTIONS.name: [
            gxe.ExpectColumnValuesToBeUnique(column="detection_id"),
            gxe.ExpectColumnValuesToBeInSet(column="kind", value_set=["brand", "person"]),
            gxe.ExpectColumnValuesToBeInSet(column="label", value_set=[*brand_ids, "person"]),
            *_not_null("stream_id", "segment_id", "frame_time", "model_version"),
            *(_between(c, 0.0, 1.0) for c in unit),
        ],
        SEGMENT_CONTEXT.name: [
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["segment_id", "frame_index"]),
            *_not_null("stream_id", "frame_time", "interval_s"),
            _between("interval_s", 0.0, max_interval_s),
            _between("safety_score", 0.0, 1.0),
            _between("brightness", 0.0, 1.0),
        ],
        FRAME_BRANDS.name: [*_not_null("frame_id", "stream_id", "frame_time")],
        IMPRESSION_LOG.name: [gxe.ExpectColumnValuesToBeUnique(column="event_id")],
        CLICKS.name: [gxe.ExpectColumnValuesToBeUnique(column="event_id")],
        PLAYER_EVENTS.name: [
            gxe.ExpectColumnValuesToBeUnique(column="event_id"),
            *_not_null("stream_id", "viewer_id", "event_time", "event_type"),
        ],
        AUDIENCE_MINUTE.name: [
            gxe.ExpectCompoundColumnsToBeUnique(column_list=ROW_KEYS[AUDIENCE_MINUTE.name]),
            _between("avg_concurrent_viewers", 0.0),
            _between("viewer_seconds", 0.0),
            _between("invalid_viewers", 0),
        ],
        QOE_MINUTE.name: [
            gxe.ExpectCompoundColumnsToBeUnique(column_list=ROW_KEYS[QOE_MINUTE.name]),
            *(_between(c, 0.0, 1.0) for c in ("rebuffer_ratio", "error_rate", "abandonment_rate")),
            _between("startup_p50_ms", 0.0),
        ],
        BRAND_EXPOSURE_MINUTE.name: [
            gxe.ExpectCompoundColumnsToBeUnique(column_list=ROW_KEYS[BRAND_EXPOSURE_MINUTE.name]),
            gxe.ExpectColumnValuesToBeInSet(column="brand_id", value_set=brand_ids),
            _between("share_of_voice", 0.0, 1.0),
            _between("screen_seconds", 0.0, 60.0),
            *(_between(c, 0.0, 1.0) for c in ("mean_size_share", "max_size_share", "clarity")),
            _between("quality_index", 0.0, 1.0),
            _between("media_value", 0.0),
            _between("viewer_seconds", 0.0),
            _between("exposure_impressions", 0),
        ],
        IMPRESSION_CONTEXT.name: [gxe.ExpectColumnValuesToBeUnique(column="event_id")],
        REVENUE_MINUTE.name: [
            gxe.ExpectCompoundColumnsToBeUnique(column_list=ROW_KEYS[REVENUE_MINUTE.name]),
            _between("impressions", 0),
            _between("revenue", 0.0),
            _between("clicks", 0),
            _between("ctr", 0.0, 1.0),
        ],
    }
    if table in BRONZE_TABLES.values():
        return [gxe.ExpectColumnValuesToBeUnique(column="event_id")]
    return rules.get(table.name, [])


def table_check(
    table: TableSpec, rows: pd.DataFrame, brand_ids: list[str], max_interval_s: float
) -> Check:
    """A table's recent rows with its schema's and its data's expectations."""
    return Check(
        suite=table.name,
        table=table.name,
        frame=rows,
        expectations=schema_expectations(table) + table_rules(table, brand_ids, max_interval_s),
        keys=ROW_KEYS[table.name],
    )


def record_rules_check(table: TableSpec, rows: pd.DataFrame) -> Check | None:
    """A bronze table's rows against its event's rules across fields (`EventSchema.checks`,
    e.g. an auction marked filled with its top bid under the floor): the broken rule per row,
    expected to be none. None for tables whose event has no such rules."""
    layer, name = table.name.split(".")
    event = EVENT_SCHEMAS.get(name) if layer == "bronze" else None
    if event is None or not event.checks:
        return None
    fields = rows[[f.name for f in event.fields]].astype(object)
    found = rows[["event_id"]].copy()
    found["broken_rule"] = [
        "; ".join(why for check in event.checks if (why := check(record))) or None
        for record in fields.where(fields.notna(), None).to_dict("records")
    ]
    return Check(
        suite=f"{table.name}: rules across fields",
        table=table.name,
        frame=found,
        expectations=[gxe.ExpectColumnValuesToBeNull(column="broken_rule")],
        keys=["event_id"],
    )


def share_of_voice_check(exposure: pd.DataFrame) -> Check:
    """Share of voice sums to 1 in every stream-minute with any screen time."""
    shown = exposure[exposure["screen_seconds"] > 0]
    totals = (
        shown.groupby(["stream_id", "minute"], as_index=False)["share_of_voice"]
        .sum()
        .rename(columns={"share_of_voice": "share_of_voice_total"})
    )
    return Check(
        suite=f"{BRAND_EXPOSURE_MINUTE.name}: share of voice per stream-minute",
        table=BRAND_EXPOSURE_MINUTE.name,
        frame=totals,
        expectations=[_between("share_of_voice_total", 1 - SOV_TOLERANCE, 1 + SOV_TOLERANCE)],
        keys=["stream_id", "minute"],
    )


def impressions_in_bronze_check(context: pd.DataFrame, bronze_ids: pd.Series) -> Check:
    """Every impression in gold was landed in bronze first."""
    found = context[["event_id", "stream_id", "event_time"]].copy()
    found["in_bronze"] = found["event_id"].isin(set(bronze_ids))
    return Check(
        suite=f"{IMPRESSION_CONTEXT.name}: every impression in bronze.impressions",
        table=IMPRESSION_CONTEXT.name,
        frame=found,
        expectations=[gxe.ExpectColumnValuesToBeInSet(column="in_bronze", value_set=[True])],
        keys=["event_id"],
    )


def freshness_check(
    table: TableSpec, rows: pd.DataFrame, segments: pd.DataFrame, max_lag_minutes: float
) -> Check:
    """Per stream with recent segments: minutes from its newest segment's start back to the
    table's newest frame (a stream with segments and no rows at all trails by infinity)."""
    newest_segment = segments.groupby("stream_id")["start_time"].max().rename("newest_segment")
    newest_row = rows.groupby("stream_id")["frame_time"].max().rename("newest_row")
    lag = pd.concat([newest_segment, newest_row], axis=1).dropna(subset=["newest_segment"])
    minutes = (lag["newest_segment"] - lag["newest_row"]).dt.total_seconds() / 60
    lag["lag_minutes"] = minutes.fillna(float("inf")).clip(lower=0.0)
    lag = lag.reset_index(names="stream_id")
    return Check(
        suite=f"{table.name}: fresh per stream",
        table=table.name,
        frame=lag[["stream_id", "lag_minutes"]],
        expectations=[_between("lag_minutes", 0.0, max_lag_minutes)],
        keys=["stream_id"],
    )
