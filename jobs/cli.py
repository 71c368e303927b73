"""The `brandlake` command.

brandlake jars                         fetch the JVM packages (delta-spark, Kafka) once
brandlake services up|down|status      the embedded broker and Redis
brandlake airflow up|down|status       Airflow 3 with the DAGs in dags/ (loopback)
brandlake cluster up|down|status       a Spark standalone cluster on this machine (loopback)
brandlake mlflow ui                    the MLflow tracking UI over the model registry (loopback)
brandlake run bronze-ingest [...]      a streaming job (--available-now: until caught up)
brandlake run frame-analysis [...]     segments -> detections, scene, safety, mentions (silver, ...)
brandlake run exposure-revenue [...]   frames x impressions -> gold exposure and revenue, Redis
brandlake run privacy-rendition [...]  segments -> a second rendition with every face blurred
brandlake submit JOB [--dry-run] [...]  a streaming job through spark-submit to spark.master
brandlake simulate --count N [...]     impressions and viewer events into Kafka
brandlake ingest rtmp|file [...]       video -> HLS in the landing area -> `segments` events
brandlake sample-media [...]           a sample broadcast with brand logos and ground truth
brandlake train brand-detector [...]   train the brand detector on synthetic composites
brandlake evaluate brand-detector      the detector on held-out scenes and brand-free footage
brandlake quality                      Great Expectations over the lake (the data_quality DAG)
brandlake maintenance                  compact, VACUUM, prune checkpoints and landing (the DAG)
brandlake tables                       the lake's tables, their rows and where they are
brandlake sql [QUERY] [-f FILE] [...]  SQL over the lake's tables by name (DuckDB, no Spark)
brandlake report --brand B [...]       a brand's sponsorship report: one HTML file (and a PDF)
brandlake notebooks [--port 8888]      JupyterLab over notebooks/ on loopback, the project's kernel
brandlake spark-sql [QUERY]            Spark SQL over the lake's tables by name (stdin: many)
brandlake demo                         the whole pipeline on a sample broadcast, then a summary
brandlake dashboard                    the Streamlit app: live player, exposure, revenue, health
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jobs.common import environment
from jobs.common.config import ConfigError, add_set_option, parse_overrides
from jobs.entrypoint import command_settings

JOBS = {
    "bronze-ingest": "jobs.bronze_ingest",
    "frame-analysis": "jobs.frame_analysis",
    "exposure-revenue": "jobs.exposure_revenue",
    "privacy-rendition": "jobs.privacy_rendition",
}
TRAINERS = {
    "brand-detector": "jobs.train.brand_detector",
    "ctr-model": "jobs.train.ctr_model",
    "ivt-model": "jobs.train.ivt_model",
}
# Commands whose module parses its own options: `main(argv)` gets what follows the command
OWN_PARSERS = {
    "simulate": "jobs.simulate",
    "ingest": "jobs.ingest.run",
    "sample-media": "jobs.sample_media",
    "evaluate": "jobs.train.generalisation",
    "quality": "jobs.quality.run",
    "maintenance": "jobs.maintenance.run",
    "yield": "jobs.yield_optimization",
    "sql": "jobs.analytics.sql",
    "report": "jobs.analytics.sponsorship",
    "notebooks": "jobs.analytics.notebooks",
    "streams": "jobs.control.streams",
}


def main(argv: list[str] | None = None) -> int:
    environment.apply()
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="brandlake", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    jars = commands.add_parser("jars", help="fetch the JVM packages Spark and the broker need")
    add_set_option(jars)
    services = commands.add_parser("services", help="the embedded broker and Redis")
    services.add_argument("action", choices=("up", "down", "status"))
    add_set_option(services)
    airflow = commands.add_parser("airflow", help="Airflow with brandlake's DAGs")
    airflow.add_argument("action", choices=("up", "down", "status"))
    add_set_option(airflow)
    cluster = commands.add_parser("cluster", help="a Spark standalone cluster on this machine")
    cluster.add_argument("action", choices=("up", "down", "status"))
    add_set_option(cluster)
    submit = commands.add_parser("submit", help="a streaming job through spark-submit")
    submit.add_argument("job", choices=sorted(JOBS))
    submit.add_argument("--available-now", action="store_true",
                        help="process what Kafka holds now, then stop")  # fmt: skip
    submit.add_argument("--dry-run", action="store_true", help="print the command, run nothing")
    add_set_option(submit)
    mlflow_ui = commands.add_parser("mlflow", help="the MLflow tracking UI")
    mlflow_ui.add_argument("action", choices=("ui",))
    mlflow_ui.add_argument("--port", type=int, default=5000)
    add_set_option(mlflow_ui)
    run = commands.add_parser("run", help="run a streaming job", add_help=False)
    run.add_argument("job", choices=sorted(JOBS))
    commands.add_parser("simulate", help="send simulated traffic to Kafka", add_help=False)
    commands.add_parser("ingest", help="RTMP or a file -> HLS segments -> Kafka", add_help=False)
    commands.add_parser("sample-media", help="render a sample broadcast", add_help=False)
    train = commands.add_parser("train", help="train a model", add_help=False)
    train.add_argument("model", choices=sorted(TRAINERS))
    evaluate = commands.add_parser(
        "evaluate", help="a model on scenes it never saw", add_help=False
    )
    evaluate.add_argument("model", choices=("brand-detector",))
    commands.add_parser("quality", help="check the lake's data quality", add_help=False)
    commands.add_parser("maintenance", help="compact and VACUUM the lake", add_help=False)
    commands.add_parser(
        "yield", help="learn floor prices, publish them, read out the experiment", add_help=False
    )
    commands.add_parser("sql", help="SQL over the lake's tables by name (DuckDB)", add_help=False)
    commands.add_parser("report", help="a brand's sponsorship report (HTML, PDF)", add_help=False)
    commands.add_parser("notebooks", help="JupyterLab over notebooks/ (loopback)", add_help=False)
    commands.add_parser("streams", help="streams' processing modes: list, switch", add_help=False)
    tables = commands.add_parser("tables", help="list the lake's tables")
    add_set_option(tables)
    spark_sql = commands.add_parser("spark-sql", help="Spark SQL over the lake's tables")
    spark_sql.add_argument("query", nargs="?", help="one statement; without it, read stdin")
    spark_sql.add_argument("--limit", type=int, default=50, help="rows to print per statement")
    add_set_option(spark_sql)
    demo = commands.add_parser("demo", help="run the embedded demo end to end")
    demo.add_argument("--video-seconds", type=float, default=60.0, help="sample broadcast length")
    demo.add_argument("--rate", type=float, default=500.0, help="simulated ad events per second")
    add_set_option(demo)
    dashboard = commands.add_parser("dashboard", help="the Streamlit dashboard")
    add_set_option(dashboard)

    args, rest = parser.parse_known_args(argv)
    try:
        return _dispatch(args, rest, parser)
    except ConfigError as err:
        print(f"brandlake: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:  # ServiceError, BrokerUnavailableError, ...
        print(f"brandlake: {err}", file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace, rest: list[str], parser) -> int:
    if args.command in ("run", "train"):
        module = JOBS[args.job] if args.command == "run" else TRAINERS[args.model]
    else:
        module = OWN_PARSERS.get(args.command)
    if module is not None:
        import importlib

        importlib.import_module(module).main(rest)
        return 0
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    settings = command_settings(parse_overrides(args.set))
    if args.command == "jars":
        from jobs.common.jars import fetch

        fetch(settings)
        return 0
    if args.command == "services":
        from infra.local import services

        if args.action == "up":
            services.up(settings)
            from jobs.common.kafka import ensure_topics

            for topic in ensure_topics(services.resolve(settings)):
                print(f"broker: created topic {topic}")
        elif args.action == "down":
            services.down(settings)
        else:
            for state in services.status(settings):
                pid = state.pid or "-"
                print(f"{state.name:8} {state.status:10} {state.address:22} pid {pid}")
        return 0
    if args.command == "cluster":
        from infra.local import cluster

        if args.action == "up":
            cluster.up(settings)
        elif args.action == "down":
            cluster.down(settings)
        else:
            state = cluster.status(settings)
            print(f"cluster {state.status}: {state.master_url or '-'} (ui {state.ui_url or '-'}), "
                  f"{state.alive_workers} of {len(state.worker_pids)} workers alive")  # fmt: skip
        return 0
    if args.command == "submit":
        from infra.spark.submit import submit as spark_submit

        job_args = ["--available-now"] if args.available_now else []
        job_args += [part for pair in args.set for part in ("--set", pair)]
        return spark_submit(settings, args.job, job_args, args.dry_run)
    if args.command == "airflow":
        from infra.local import airflow

        if args.action == "up":
            airflow.up(settings)
        elif args.action == "down":
            airflow.down(settings)
        else:
            state = airflow.status(settings)
            print(f"airflow  {state.status:10} {state.url or '-':26} pid {state.pid or '-'}")
        return 0
    if args.command == "mlflow":
        import subprocess

        from jobs.common.registry import artifact_root, tracking_uri

        print(f"MLflow UI on http://127.0.0.1:{args.port} (Ctrl-C stops it)")
        command = [str(Path(sys.executable).with_name("mlflow")), "ui", "--host", "127.0.0.1",
                   "--port", str(args.port), "--backend-store-uri", tracking_uri(settings),
                   "--default-artifact-root", artifact_root(settings)]  # fmt: skip
        return subprocess.call(command)
    if args.command == "tables":
        from jobs.common.lake import describe_tables

        print(describe_tables(settings))
        return 0
    if args.command == "spark-sql":
        from jobs.common.lake import spark_sql

        statements = [args.query] if args.query else sys.stdin.read().split(";")
        spark_sql(settings, [s for s in statements if s.strip()], args.limit)
        return 0
    if args.command == "demo":
        from jobs.common.streaming import configure_logging
        from jobs.demo import run_demo

        configure_logging()
        run_demo(settings, args.video_seconds, args.rate)
        return 0
    if args.command == "dashboard":
        from dashboards.run import main as dashboard_main

        dashboard_main(settings, parse_overrides(args.set))
        return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
