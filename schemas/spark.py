"""The event schemas as Spark types and Spark column expressions (same rules as the validator)."""

from __future__ import annotations

import pyarrow as pa
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

from schemas.events import EventField, EventSchema

SPARK_TYPES: dict[str, T.DataType] = {
    "string": T.StringType(),
    "long": T.LongType(),
    "int": T.IntegerType(),
    "double": T.DoubleType(),
    "timestamp": T.TimestampType(),
}


CORRUPT = "_corrupt_record"


def raw_struct(event: EventSchema) -> T.StructType:
    """Every field as its JSON text, plus the corrupt-record column Spark fills when the payload
    is not a JSON object. Tells a missing field from one of the wrong type."""
    fields = [T.StructField(f.name, T.StringType()) for f in event.fields]
    return T.StructType([*fields, T.StructField(CORRUPT, T.StringType())])


def typed_struct(event: EventSchema) -> T.StructType:
    """Every field in its type; a value of the wrong JSON type parses to null. Timestamps stay
    text here and are parsed by `typed_value`, which accepts any ISO-8601 offset."""
    return T.StructType(
        [
            T.StructField(f.name, T.StringType() if f.type == "timestamp" else SPARK_TYPES[f.type])
            for f in event.fields
        ]
    )


def typed_value(spec: EventField, parsed: Column) -> Column:
    """The field's value in its Spark type, from its `typed_struct` column."""
    if spec.type == "timestamp":
        return F.try_to_timestamp(parsed)
    if spec.type == "double":  # Spark's JSON reader accepts NaN and Infinity; JSON does not
        return F.when(~F.isnan(parsed) & (F.abs(parsed) != F.lit(float("inf"))), parsed)
    return parsed


def _rule_failures(spec: EventField, value: Column) -> list[tuple[Column, str]]:
    """Each rule on a present, well-typed value: (condition that breaks it, reason)."""
    failures = []
    if spec.allowed is not None:
        failures.append((~value.isin(*spec.allowed), f"{spec.name}: not one of {','.join(spec.allowed)}"))
    if spec.minimum is not None:
        failures.append((value < spec.minimum, f"{spec.name}: below {spec.minimum:g}"))
    if spec.maximum is not None:
        failures.append((value > spec.maximum, f"{spec.name}: above {spec.maximum:g}"))
    if spec.pattern is not None:
        failures.append(
            (~value.rlike(f"^(?:{spec.pattern})$"), f"{spec.name}: does not match {spec.pattern}")
        )
    return failures


def needs_raw_check(spec: EventField) -> bool:
    """An optional non-string field parsed to null may be absent (fine) or mistyped (not):
    only its raw text tells. String fields accept any JSON value as text, so null means absent."""
    return not spec.required and spec.type != "string"


def field_ok(spec: EventField, value: Column, raw: Column | None = None) -> Column:
    """True when the field is valid: the cheap test every record takes (no reason text built)."""
    failed = [F.coalesce(condition, F.lit(False)) for condition, _ in _rule_failures(spec, value)]
    ok = F.lit(True)
    for condition in failed:
        ok = ok & ~condition
    if spec.required:
        return value.isNotNull() & ok
    if needs_raw_check(spec):
        return raw.isNull() | (value.isNotNull() & ok)
    return value.isNull() | ok


def violations(spec: EventField, raw: Column, value: Column) -> Column:
    """Null when the field is valid, else the reason (same wording as EventSchema.validate)."""
    checks: list[tuple[Column, str]] = []
    if spec.required:
        checks.append((raw.isNull(), f"{spec.name}: required"))
    checks.append((raw.isNotNull() & value.isNull(), f"{spec.name}: not a valid {spec.type}"))
    checks += _rule_failures(spec, value)
    reason = F.lit(None).cast("string")
    for failed, text in reversed(checks):
        reason = F.when(F.coalesce(failed, F.lit(False)), F.lit(text)).otherwise(reason)
    return reason


def arrow_to_spark(schema: pa.Schema) -> T.StructType:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)
