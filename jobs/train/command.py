"""The command line the registry-gated trainers share (`brandlake train ctr-model|ivt-model`):
`--set` options, training, each scored model's figures, and the promotion decision."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable

from jobs.common.config import Settings, add_set_option, parse_overrides


def run_trainer(
    argv: list[str] | None,
    model: str,
    description: str,
    train: Callable[[Settings], dict],
    describe_scores: Callable[[dict], str],
) -> dict:
    """Parse `argv`, `train(settings)`, print each scored model's line (`describe_scores` of
    its figures) and whether the new version was promoted; returns the trainer's report."""
    from jobs.entrypoint import command_settings

    parser = argparse.ArgumentParser(prog=f"brandlake train {model}", description=description)
    add_set_option(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    report = train(command_settings(parse_overrides(args.set)))
    for who, found in report["scores"].items():
        print(f"  {who:10} {describe_scores(found)}")
    state = "promoted" if report["promote"] else "registered, not promoted"
    print(f"{model} v{report['version']} {state}: {'; '.join(report['reasons'])}")
    return report
