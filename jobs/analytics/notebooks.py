"""`brandlake notebooks`: JupyterLab over notebooks/, on loopback, with the project's kernel.

    brandlake notebooks [--port 8888] [--set lake.root=s3://...]

The kernel is this environment's Python, so the notebooks import brandlake and see the same
configuration as every command (`--set` values reach them as BRANDLAKE_* variables). Only
127.0.0.1 listens, behind a token printed with the address.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from pathlib import Path

from jobs.common.config import add_set_option, parse_overrides

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def lab_command(port: int, token: str, folder: Path = NOTEBOOKS) -> list[str]:
    """JupyterLab on 127.0.0.1:`port` (no other port if taken) over `folder`."""
    return [
        str(Path(sys.executable).with_name("jupyter")), "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={folder}", f"--IdentityProvider.token={token}",
        # containers run as root; Jupyter refuses that unless told
        *(["--ServerApp.allow_root=True"] if os.geteuid() == 0 else []),
    ]  # fmt: skip


def override_env(overrides: dict[str, str]) -> dict[str, str]:
    """`--set key.sub=value` as the BRANDLAKE_KEY__SUB variables the kernel's settings read."""
    return {"BRANDLAKE_" + key.upper().replace(".", "__"): str(v) for key, v in overrides.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="brandlake notebooks", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8888, help="on 127.0.0.1 (default 8888)")
    add_set_option(parser)
    args = parser.parse_args(argv)
    token = secrets.token_urlsafe(24)
    print(f"JupyterLab on http://127.0.0.1:{args.port}/lab?token={token} (Ctrl-C stops it)")
    env = {**os.environ, **override_env(parse_overrides(args.set))}
    try:
        code = subprocess.call(lab_command(args.port, token), env=env)
    except KeyboardInterrupt:
        code = 0
    raise SystemExit(code)
