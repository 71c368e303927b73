"""The layers import downwards only: `udfs/` never imports `jobs/`, `jobs/common` never imports
`infra/`, and importing a package changes nothing in the process's environment."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imports(folder: str) -> dict[str, set[str]]:
    """Top-level package of every import (at any depth of the code) per module of `folder`."""
    found = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [("udfs", {"jobs", "infra", "dashboards", "dags"}), ("jobs/common", {"infra", "dashboards"}),
     ("schemas", {"jobs", "udfs", "infra", "dashboards"})],
)  # fmt: skip
def test_a_layer_imports_nothing_above_it(folder, forbidden):
    climbing = {m: sorted(names & forbidden) for m, names in _imports(folder).items()}
    assert {m: n for m, n in climbing.items() if n} == {}


def test_every_udfs_module_imports_where_jobs_is_not_importable():
    modules = [
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in sorted((ROOT / "udfs").rglob("*.py"))
    ]
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'jobs' or name.startswith('jobs.'):\n"
        "            raise ImportError(f'udfs imported {name}')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import importlib\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_importing_the_packages_sets_no_environment():
    watched = ["YOLO_OFFLINE", "HF_HUB_OFFLINE", "SPARK_LOCAL_IP", "MLFLOW_DISABLE_TELEMETRY"]
    env = {k: v for k, v in os.environ.items() if k not in watched}
    script = (
        "import os, jobs, udfs, jobs.common.environment, udfs.environment\n"
        f"print(sorted(k for k in {watched!r} if k in os.environ))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
