"""What every command does before its work, in one place: set the environment, load the
configuration, resolve the embedded services' addresses (and `spark.master: standalone`, the
local standalone cluster's).

`jobs/common` never looks the embedded services up itself (it must not import `infra/`): the
entry points (`brandlake ...`, `python -m jobs.<job>`, the dashboard, the tests) hand it
settings that already hold the broker's and Redis's addresses.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from jobs.common import environment
from jobs.common.config import Settings, add_set_option, load_settings, parse_overrides


def command_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """The configuration for a command (`overrides` from its `--set` options), with the
    environment applied and the embedded services' addresses resolved."""
    from infra.local.cluster import resolve_master
    from infra.local.services import resolve

    environment.apply()
    return resolve_master(resolve(load_settings(overrides)))


def streaming_job_main(
    argv: list[str] | None, prog: str, description: str, run: Callable[[Settings, bool], None]
) -> None:
    """The command line every streaming job shares: `--available-now` and `--set key=value`."""
    from jobs.common.streaming import configure_logging

    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--available-now",
        action="store_true",
        help="process what Kafka holds now, in micro-batches, then stop",
    )
    add_set_option(parser)
    args = parser.parse_args(argv)
    configure_logging()
    run(command_settings(parse_overrides(args.set)), args.available_now)
