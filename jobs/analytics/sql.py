"""`brandlake sql`: SQL over the lake's Delta tables by name, in DuckDB (no Spark, no JVM).

    brandlake sql "SELECT brand_id, sum(screen_seconds) FROM gold.brand_exposure_minute GROUP BY 1"
    brandlake sql -f query.sql --csv > exposure.csv
    echo "SELECT count(*) FROM bronze.impressions" | brandlake sql --as-of 2026-12-01T12:00:00Z
    brandlake sql --as-of 3 "SELECT * FROM gold.revenue_minute"    # version 3 of that table

Each table the query names (`bronze.impressions`, `silver.detections`, `gold.revenue_minute`, ...:
`brandlake tables` lists them, local or on S3) is read with delta-rs at its newest version, or as
of a time (`--as-of` ISO 8601, any query) or a version (`--as-of N`, a query of one table), and
shown to DuckDB as a view under that name. A query that names none sees them all.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from jobs.common.config import Settings, add_set_option, parse_overrides
from jobs.common.lake import ALL_TABLES, open_table
from schemas.tables import TableSpec

AsOf = int | datetime | None


class SqlError(RuntimeError):
    """The query cannot run: the message says why and what to do."""


def parse_as_of(text: str | None) -> AsOf:
    """`--as-of`: a table version (a number) or a time (ISO 8601; UTC when it has no zone)."""
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SqlError(
            f"--as-of {text!r} is neither a table version (a number) nor a time "
            "(ISO 8601, e.g. 2026-12-01T12:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def named_tables(query: str) -> list[TableSpec]:
    """The lake's tables the query names; all of them when it names none (`SHOW ALL TABLES`)."""
    named = [t for t in ALL_TABLES if re.search(rf"\b{re.escape(t.name)}\b", query, re.I)]
    return named or list(ALL_TABLES)


def _view(settings: Settings, table: TableSpec, as_of: AsOf, required: bool):
    """The table's rows as a dataset (at `as_of`); None for a table not written (yet, or by
    then) that the query does not name."""
    delta = open_table(settings, table.name)
    if delta is None:
        if not required:
            return None
        raise SqlError(f"{table.name} has not been written yet: run `{table.producer}`")
    if as_of is not None:
        newest = delta.version()
        try:
            delta.load_as_version(as_of)
        except Exception as err:  # delta-rs: a version or time the log does not reach
            if isinstance(as_of, int):
                raise SqlError(
                    f"{table.name} has no version {as_of}: its versions are 0 to {newest}"
                ) from None
            if not required:
                return None
            when = as_of.isoformat()
            raise SqlError(f"{table.name} has no version as of {when}: {err}") from None
    return delta.to_pyarrow_dataset()


def connect(settings: Settings, query: str, as_of: AsOf = None):
    """A DuckDB connection in which the query's tables are views under their names."""
    import duckdb

    tables = named_tables(query)
    every = len(tables) == len(ALL_TABLES)
    if isinstance(as_of, int) and len(tables) != 1:
        raise SqlError(
            "--as-of VERSION is one table's version, and the query "
            + ("names no table" if every else f"names {', '.join(t.name for t in tables)}")
            + ": give a time instead (--as-of 2026-12-01T12:00:00Z)"
        )
    connection = duckdb.connect()
    for table in tables:
        dataset = _view(settings, table, as_of, required=not every)
        if dataset is None:
            continue
        layer, name = table.name.split(".")
        source = f"__{layer}__{name}"
        connection.register(source, dataset)
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {layer}")
        connection.execute(f"CREATE VIEW {layer}.{name} AS SELECT * FROM {source}")
    return connection


def run_query(settings: Settings, query: str, as_of: AsOf = None) -> pa.Table:
    """The query's result; SqlError with DuckDB's message (which names an unknown table or
    column) and the lake's table names."""
    import duckdb

    connection = connect(settings, query, as_of)
    try:
        result = connection.sql(query)
        return result.to_arrow_table() if result is not None else pa.table({})
    except duckdb.CatalogException as err:
        names = ", ".join(t.name for t in ALL_TABLES)
        raise SqlError(f"{err}\nThe lake's tables: {names}") from None
    except duckdb.BinderException as err:
        named = named_tables(query)
        columns = [] if len(named) == len(ALL_TABLES) else named
        raise SqlError("\n".join([str(err), *(f"{t.name}: {', '.join(t.columns)}"
                                                for t in columns)])) from None  # fmt: skip
    except duckdb.Error as err:
        raise SqlError(str(err)) from None
    finally:
        connection.close()


def write_result(result: pa.Table, output: str, parquet: Path | None = None) -> None:
    """Print `result` as an aligned table, CSV or JSON lines, or write it to a Parquet file."""
    if parquet is not None:
        import pyarrow.parquet as pq

        pq.write_table(result, parquet)
        print(f"{result.num_rows} rows -> {parquet}", file=sys.stderr)
        return
    frame = result.to_pandas()
    if output == "csv":
        frame.to_csv(sys.stdout, index=False)
    elif output == "json":
        if len(frame):
            frame.to_json(sys.stdout, orient="records", lines=True, date_format="iso")
    else:
        print(frame.to_string(index=False) if len(frame.columns) else "(no columns)")
        print(f"({result.num_rows} row{'s' if result.num_rows != 1 else ''})")


def main(argv: list[str] | None = None) -> None:
    from jobs.entrypoint import command_settings

    parser = argparse.ArgumentParser(
        prog="brandlake sql", description=__doc__.split("\n")[0].split(": ", 1)[1]
    )
    parser.add_argument("query", nargs="?", help="the query; without it (or -f), read stdin")
    parser.add_argument("-f", "--file", type=Path, help="read the query from this file")
    parser.add_argument("--as-of", help="a time (ISO 8601) or, for one table, a version")
    formats = parser.add_mutually_exclusive_group()
    formats.add_argument("--csv", action="store_const", const="csv", dest="output")
    formats.add_argument("--json", action="store_const", const="json", dest="output",
                         help="one JSON object per row")  # fmt: skip
    formats.add_argument("--parquet", type=Path, metavar="FILE", help="write the rows to FILE")
    add_set_option(parser)
    args = parser.parse_args(argv)
    if args.file is not None and args.query is not None:
        parser.error("give the query or -f FILE, not both")
    query = args.file.read_text() if args.file else args.query or sys.stdin.read()
    if not query.strip():
        parser.error("no query: give one as an argument, with -f FILE or on stdin")
    settings = command_settings(parse_overrides(args.set))
    result = run_query(settings, query, parse_as_of(args.as_of))
    write_result(result, args.output or "table", args.parquet)
